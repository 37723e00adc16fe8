// Package testbin builds a Go program once for the tests of a package that
// run it as a separate process, and removes it when those tests end, so a
// test run leaves no binaries behind in the temporary directory (each is
// tens of megabytes, and a developer runs the tests many times a day).
//
// A package declares its programs as package variables and removes them
// in TestMain:
//
//	var sluiceBin = testbin.New("github.com/sluicehq/sluice/cmd/sluice", "sluice")
//
//	func TestMain(m *testing.M) { testbin.Main(m, sluiceBin) }
package testbin
