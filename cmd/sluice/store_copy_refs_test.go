package main

import (
	"bytes"
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/postgres/pgtest"
)

// TestStoreCopy_References: --to and --from take the config's ${file:PATH}
// and ${NAME} references, so a PostgreSQL password is read from a file (a
// Kubernetes Secret, a systemd credential) rather than typed where ps
// shows it; the copy says to set store: to the reference as given. A
// reference that cannot be read is refused naming the flag and the file or
// variable, never a value. They were taken as written before, and the copy
// failed to reach "postgres://sluice:${file:…}@…".
func TestStoreCopy_References(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src.db")
	copyFixture(t, src, 10)
	dsn := pgtest.Schema(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	pw, ok := u.User.Password()
	if !ok || pw == "" {
		t.Fatalf("the test server's DSN (SLUICE_TEST_POSTGRES) has no password to read from a file: %s: give it one, as .ci/run and scripts/services.sh do (sluice:sluice)", describeStore(dsn))
	}
	secret := filepath.Join(dir, "pg-password")
	if err := os.WriteFile(secret, []byte(pw+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	withFile := strings.Replace(dsn, ":"+u.User.String()[len(u.User.Username())+1:]+"@", ":${file:"+secret+"}@", 1)
	if withFile == dsn {
		t.Fatalf("cannot put a ${file:} reference in %s", describeStore(dsn))
	}

	copyCmd := func(from, to string) (string, string, int) {
		var out, errOut bytes.Buffer
		code := Main(context.Background(), []string{"store", "copy", "--from", from, "--to", to, "--no-requests"}, strings.NewReader(""), &out, &errOut)
		return out.String(), errOut.String(), code
	}
	out, errOut, code := copyCmd(src, withFile)
	if code != 0 {
		t.Fatalf("store copy --to with a ${file:} password: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "set the gateway's store: to "+withFile+" in its config") || strings.Contains(out+errOut, pw+"@") {
		t.Errorf("store copy --to with a ${file:} password: want the Next line to name the reference as given and no password:\n%s%s", out, errOut)
	}

	// Back again, the source named through an environment variable.
	t.Setenv("SLUICE_TEST_COPY_PG", dsn)
	back := filepath.Join(dir, "back.db")
	if out, errOut, code := copyCmd("${SLUICE_TEST_COPY_PG}", back); code != 0 {
		t.Fatalf("store copy --from ${SLUICE_TEST_COPY_PG}: exit %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(back); err != nil {
		t.Errorf("store copy --from ${NAME} wrote no %s: %v", back, err)
	}

	// What cannot be read is refused, naming the flag and the reference.
	for _, c := range []struct{ from, to, want string }{
		{src, strings.Replace(withFile, secret, filepath.Join(dir, "no-such-file"), 1), "--to: ${file:" + filepath.Join(dir, "no-such-file") + "}: cannot open it"},
		{"${SLUICE_TEST_NOT_SET}", filepath.Join(dir, "x.db"), "--from: environment variable SLUICE_TEST_NOT_SET is not set"},
	} {
		_, errOut, code := copyCmd(c.from, c.to)
		if code == 0 || !strings.Contains(errOut, c.want) {
			t.Errorf("store copy --from %s --to %s: exit %d, %q; want it refused saying %q", c.from, c.to, code, errOut, c.want)
		}
	}
}

// TestStoreCopy_ReferenceBesideAPassword: a --to that holds a reference
// and a password written out (postgres://sluice:secret@${HOST}/…) is
// named for store: without its password, with the advice to give it by
// reference, as a --to without references is. The Next line printed the
// flag as given, password and all, where the summary hid it.
func TestStoreCopy_ReferenceBesideAPassword(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src.db")
	copyFixture(t, src, 10)
	dsn := pgtest.Schema(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	pw, ok := u.User.Password()
	if !ok || pw == "" {
		t.Fatalf("the test server's DSN (SLUICE_TEST_POSTGRES) has no password: %s: give it one, as .ci/run and scripts/services.sh do (sluice:sluice)", describeStore(dsn))
	}
	t.Setenv("SLUICE_TEST_COPY_HOST", u.Host)
	to := strings.Replace(dsn, "@"+u.Host+"/", "@${SLUICE_TEST_COPY_HOST}/", 1)
	if to == dsn {
		t.Fatalf("cannot put a ${NAME} reference for the host in %s", describeStore(dsn))
	}
	var out, errOut bytes.Buffer
	if code := Main(context.Background(), []string{"store", "copy", "--from", src, "--to", to, "--no-requests"}, strings.NewReader(""), &out, &errOut); code != 0 {
		t.Fatalf("store copy --to %s: exit %d\n%s%s", describeStore(dsn), code, out.String(), errOut.String())
	}
	if strings.Contains(out.String()+errOut.String(), ":"+pw+"@") {
		t.Errorf("store copy --to with a password written out beside a reference prints the password:\n%s%s", out.String(), errOut.String())
	}
	if want := "set the gateway's store: to " + describeStore(dsn) + " in its config (as a ${NAME} or ${file:PATH} reference"; !strings.Contains(out.String(), want) {
		t.Errorf("store copy's Next line: want %q in:\n%s", want, out.String())
	}
}
