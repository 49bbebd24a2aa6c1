#ifndef HOOP_NATIVE_STACK_H
#define HOOP_NATIVE_STACK_H

#include <pthread.h>
#include <stddef.h>

// The layouts of libpg_query's PgQueryProtobuf, PgQueryError and
// PgQueryProtobufParseResult (pg_query.h), whose header is not reachable from here.
typedef struct {
	size_t len;
	char *data;
} hoop_protobuf;

typedef struct {
	char *message;
	char *funcname;
	char *filename;
	int lineno;
	int cursorpos;
	char *context;
} hoop_parse_error;

typedef struct {
	hoop_protobuf parse_tree;
	char *stderr_buffer;
	hoop_parse_error *error;
} hoop_parse_result;

// libpg_query's PgQueryNormalizeResult.
typedef struct {
	char *normalized_query;
	hoop_parse_error *error;
} hoop_normalize_result;

enum { HOOP_IDLE, HOOP_POSTED, HOOP_DONE };
enum { HOOP_PARSE, HOOP_NORMALIZE };

typedef struct {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	int state; // HOOP_IDLE, HOOP_POSTED (input set), HOOP_DONE (result set)
	int job; // HOOP_PARSE or HOOP_NORMALIZE
	const char *input;
	hoop_parse_result result;
	hoop_normalize_result normalized;
	void *base; // the mapping: guard, then stack
	size_t size;
	pthread_t thread;
} hoop_worker;

// hoop_worker_start starts a thread with a stack of the given size that parses what
// hoop_worker_parse hands it; NULL and *err set when it cannot.
hoop_worker *hoop_worker_start(size_t stack, int *err);

// hoop_worker_parse parses input on w's thread and returns libpg_query's result, which the
// caller frees with pg_query_free_protobuf_parse_result. One caller at a time per worker.
hoop_parse_result hoop_worker_parse(hoop_worker *w, const char *input);

// hoop_worker_normalize normalizes input on w's thread; the caller frees the result with
// pg_query_free_normalize_result.
hoop_normalize_result hoop_worker_normalize(hoop_worker *w, const char *input);

extern void pg_query_free_protobuf_parse_result(hoop_parse_result result);
extern void pg_query_free_normalize_result(hoop_normalize_result result);

#endif
