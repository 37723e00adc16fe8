// Package fsattr sets a file's immutable attribute (chattr +i), for the
// tests that need a file no process can write, root included: chmod does
// not stop root, nor writes through a descriptor opened before. Linux
// only, and it needs CAP_LINUX_IMMUTABLE and a file system that keeps the
// attribute (ext4, xfs, btrfs).
package fsattr
