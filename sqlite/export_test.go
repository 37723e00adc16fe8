package sqlite

// MigrationVersions are the embedded migrations' versions, in order: they
// may skip a number (two branches taking numbers apart), so a test that
// wants each applied once compares with these, not with 1 to
// LatestSchema.
func MigrationVersions() []int {
	ms, _ := migrations()
	out := make([]int, len(ms))
	for i, m := range ms {
		out[i] = m.version
	}
	return out
}

// Migrations is how many migrations are embedded.
func Migrations() int { return len(MigrationVersions()) }

// MigrationsErr is the error reading the embedded migrations gives (two
// sharing a number, a badly named file), or nil.
func MigrationsErr() error {
	_, err := migrations()
	return err
}
