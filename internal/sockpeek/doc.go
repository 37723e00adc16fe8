// Package sockpeek looks at a TCP connection without reading from it: is
// the peer still there, and has it sent anything? The gateway asks this of
// a client connection whose request is waiting for a backend (a client that
// hung up cancels the backend's work) and of an idle backend connection
// before it carries a request (a backend that closed it while idle must not
// be sent a request that would then fail).
package sockpeek
