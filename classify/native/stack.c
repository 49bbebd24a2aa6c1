//go:build cgo

// A parse worker is a thread with a stack of its own, large enough for libpg_query's
// recursion over the deepest tree the longest accepted text can give (see stack.go). The
// Go runtime runs cgo calls on its threads' default stacks, as small as 2 MiB (glibc under
// ulimit -s unlimited) or less, where about 12 KB of SQL is enough to overflow them.

#include "stack.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MAP_NORESERVE
#define MAP_NORESERVE 0
#endif
#ifndef MAP_STACK
#define MAP_STACK 0
#endif

// Declared by libpg_query (pg_query.h), linked in by github.com/pganalyze/pg_query_go/v6.
extern hoop_parse_result pg_query_parse_protobuf(const char *input);
extern hoop_normalize_result pg_query_normalize(const char *input);

// The guard below the stack turns an overflow into a fault rather than a write into
// whatever lies below the mapping.
#define HOOP_GUARD (64 * 1024)

// release gives the pages a deep parse touched back to the system: the stack stays
// reserved, but a parse that needed 100 MB of it does not keep 100 MB resident.
static void release(hoop_worker *w) {
	char here;
	uintptr_t low = (uintptr_t)w->base + HOOP_GUARD;
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t high = ((uintptr_t)&here - 256 * 1024) & ~(page - 1);
	if (high > low) {
		madvise((void *)low, high - low, MADV_DONTNEED);
	}
}

static void *run(void *arg) {
	hoop_worker *w = arg;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (w->state != HOOP_POSTED) {
			pthread_cond_wait(&w->cond, &w->mu);
		}
		const char *input = w->input;
		int job = w->job;
		pthread_mutex_unlock(&w->mu);
		hoop_parse_result r = {0};
		hoop_normalize_result n = {0};
		if (job == HOOP_NORMALIZE) {
			n = pg_query_normalize(input);
		} else {
			r = pg_query_parse_protobuf(input);
		}
		release(w);
		pthread_mutex_lock(&w->mu);
		w->result = r;
		w->normalized = n;
		w->state = HOOP_DONE;
		pthread_cond_broadcast(&w->cond);
	}
	return NULL;
}

hoop_worker *hoop_worker_start(size_t stack, int *err) {
	hoop_worker *w = calloc(1, sizeof *w);
	if (w == NULL) {
		*err = ENOMEM;
		return NULL;
	}
	w->size = stack + HOOP_GUARD;
	w->base = mmap(NULL, w->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (w->base == MAP_FAILED) {
		*err = errno;
		free(w);
		return NULL;
	}
	if (mprotect(w->base, HOOP_GUARD, PROT_NONE) != 0) {
		*err = errno;
		munmap(w->base, w->size);
		free(w);
		return NULL;
	}
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cond, NULL);
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	*err = pthread_attr_setstack(&attr, (char *)w->base + HOOP_GUARD, stack);
	if (*err == 0) {
		// The thread starts, and stays, with every signal blocked, so that the process's
		// signals (SIGHUP reloads the policy, SIGTERM stops) go to Go's own threads.
		sigset_t all, old;
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		*err = pthread_create(&w->thread, &attr, run, w);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	pthread_attr_destroy(&attr);
	if (*err != 0) {
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->cond);
		munmap(w->base, w->size);
		free(w);
		return NULL;
	}
	return w;
}

// run_job hands input to w's thread and waits for it; the caller holds w->mu.
static void run_job(hoop_worker *w, int job, const char *input) {
	w->job = job;
	w->input = input;
	w->state = HOOP_POSTED;
	pthread_cond_broadcast(&w->cond);
	while (w->state != HOOP_DONE) {
		pthread_cond_wait(&w->cond, &w->mu);
	}
	w->state = HOOP_IDLE;
	w->input = NULL;
}

hoop_parse_result hoop_worker_parse(hoop_worker *w, const char *input) {
	pthread_mutex_lock(&w->mu);
	run_job(w, HOOP_PARSE, input);
	hoop_parse_result r = w->result;
	pthread_mutex_unlock(&w->mu);
	return r;
}

hoop_normalize_result hoop_worker_normalize(hoop_worker *w, const char *input) {
	pthread_mutex_lock(&w->mu);
	run_job(w, HOOP_NORMALIZE, input);
	hoop_normalize_result r = w->normalized;
	pthread_mutex_unlock(&w->mu);
	return r;
}
