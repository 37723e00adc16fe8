//go:build linux

package fsattr

import (
	"os"
	"syscall"
	"unsafe"
)

// SetImmutable sets or clears the immutable attribute of path (chattr +i /
// -i): while set, the file cannot be written, even through descriptors
// opened before and even by root, and a directory gets no new entries.
func SetImmutable(path string, on bool) error {
	const (
		getFlags    = 0x80086601 // FS_IOC_GETFLAGS
		setFlags    = 0x40086602 // FS_IOC_SETFLAGS
		immutableFL = 0x00000010 // FS_IMMUTABLE_FL
	)
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var flags int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), getFlags, uintptr(unsafe.Pointer(&flags))); e != 0 {
		return e
	}
	if on {
		flags |= immutableFL
	} else {
		flags &^= immutableFL
	}
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), setFlags, uintptr(unsafe.Pointer(&flags))); e != 0 {
		return e
	}
	return nil
}
