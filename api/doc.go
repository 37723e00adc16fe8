// Package api is Sluice's admin REST API: JSON under /admin/v1/ for
// reading models, versions, routes, the audit trail and the request log, and
// for changing routing through the control service, each change one
// audited transaction with a required reason.
//
// Auth holds the admin tokens (static ones from the config file and those
// created through the API) and checks a request's bearer token and role;
// its Middleware puts the token into the request context, where ActorFrom
// finds it, so the dashboard and the data plane's force header reuse it.
//
// Client is the Go client of the API that the CLI uses. Errors come back as
// *sluice.Error with the server's code, message and fields, so the CLI
// prints what the server said to do.
//
// Every error response has the shape
//
//	{"error": {"message": "...", "type": "invalid", "code": "invalid", "fields": ["reason"]}}
//
// with the HTTP status that sluice.Code.HTTPStatus gives its code.
package api
