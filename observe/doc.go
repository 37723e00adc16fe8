// Package observe records what the data plane sees of each request, for the
// canary analysis, the dashboard and Prometheus.
//
// A Recorder takes one sluice.Observation per request. It updates the
// Prometheus metrics, named after the OpenTelemetry GenAI semantic
// conventions where they have one (gen_ai_server_request_duration_seconds,
// gen_ai_server_time_to_first_token_seconds,
// gen_ai_server_time_per_output_token_seconds, gen_ai_client_token_usage)
// and sluice_* otherwise, and it keeps a bounded window of the most recent
// observations of each (model, version, category) and of each (model,
// version) across categories. The rollout controller reads the windows every
// few seconds with Window and Summary and hands the Samples to the stats
// package. Each observation keeps whether the model's split assigned its
// version at random (Observation.Route "split", or a turn of a Responses
// conversation the split began, Observation.SplitConversation); Randomized
// reads those alone, which is what a live canary compares: a pin, a label, a rule or a
// retry chooses the version for traffic unlike the rest.
//
// Record is on the request path of every request, so it is built to cost
// about a hundred nanoseconds and no allocation: the series of an
// observation is found in maps that are copied on write and read without a
// lock, and each series keeps its window and its metric counts under its own
// small lock; a Prometheus collector turns the counts into metrics at scrape
// time. The categories of a model are capped (clients choose them); the
// models and versions come from the registry.
//
// RecordQualityFrom (RecordQualityRouted, with the request's route) takes
// quality scores in [0, 1] (user feedback, the proxy's heuristic score, an
// LLM judge's grade), kept per (model, version, category) in a window of
// their own beside the observations; Window returns them in Sample.Quality,
// and Prometheus gets sluice_quality_score by source.
//
// For replicas that analyse their traffic together (package fleet), a
// Cursor takes what each series recorded since its previous Take as a
// Batch, encoded with its own layout so that fields added to the windows'
// entries travel without a change to the encoding; Recorder.Ingest adds a
// Batch from another process to a Recorder's windows; and a Union reads
// several Recorders' windows as one, with the bounds of one. Record pays
// nothing for any of it.
//
// RefusalDetector is the phrase matcher the proxy runs on a response's text
// to set Observation.Refusal.
//
// RequestLog writes the observations to the store's request log in batches
// from its own goroutine, so the request path never waits on the disk; when
// the store falls behind it drops rows and counts them rather than block.
package observe
