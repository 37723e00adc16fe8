// Package pgtest gives tests a real PostgreSQL server to run against: the
// server named by the SLUICE_TEST_POSTGRES environment variable, and a
// fresh schema per test so tests never see each other's data.
//
// A test that needs PostgreSQL fails, rather than skips, when the variable
// is not set, so that CI cannot pass without running it; under -short it is
// skipped instead. .ci/run starts a server and sets the variable.
package pgtest
