package config

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// fingerprintRead bounds what a fingerprint hashes of a file, and what a
// ${file:PATH} reference reads (it refuses more than maxFileRef): a
// secret is a few hundred bytes, a certificate chain a few KiB.
const fingerprintRead = 1 << 20

// Fingerprint returns the state of the file at path as reload.watch
// compares it: "#" and the SHA-256 of its contents (up to 1 MiB) when it
// is a regular file that can be read (followed through symlinks), else why
// it is not one ("unreadable: missing", "not a regular file (...)"). A
// load records the fingerprint of each file it read from the very bytes it
// read (Gateway.FileStates), so the watch compares a file with what was
// applied, not with what it found later.
func Fingerprint(path string) string {
	_, state, _ := readState(path)
	return state
}

// fileReadError says which step of reading a file failed.
type fileReadError struct {
	op  string // "stat", "open", "read" or "mode"
	err error  // without the path
}

func (e *fileReadError) Error() string { return e.err.Error() }
func (e *fileReadError) Unwrap() error { return e.err }

// readState reads the regular file at path, up to fingerprintRead bytes,
// and returns what it read, its Fingerprint, and why it could not be read
// (a *fileReadError). A file that is not regular is never opened: a named
// pipe with no writer would block.
func readState(path string) ([]byte, string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, "unreadable: " + cause(err), &fileReadError{"stat", pathless(err)}
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Sprintf("not a regular file (%s)", st.Mode().Type()), &fileReadError{"mode", fmt.Errorf("not a regular file (%s)", st.Mode().Type())}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, "unreadable: " + cause(err), &fileReadError{"open", pathless(err)}
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, fingerprintRead))
	if err != nil {
		return nil, "unreadable: " + cause(err), &fileReadError{"read", pathless(err)}
	}
	return b, fingerprintOf(b), nil
}

// fingerprintOf is the Fingerprint of a regular file holding b.
func fingerprintOf(b []byte) string {
	if len(b) > fingerprintRead {
		b = b[:fingerprintRead]
	}
	sum := sha256.Sum256(b)
	return "#" + hex.EncodeToString(sum[:])
}

// pathless is err without the path, which the message gives once.
func pathless(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// cause is err as a fingerprint says it: "missing" for a file that does
// not exist, else the error without the path.
func cause(err error) string {
	err = pathless(err)
	if errors.Is(err, fs.ErrNotExist) {
		return "missing"
	}
	return err.Error()
}
