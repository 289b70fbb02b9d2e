// many_threads: starts N threads (default 10000) that block in pause(),
// prints "started N" once all exist, then waits until killed. A target
// for "10,000 threads: sample, don't choke".
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void *idle(void *arg) {
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

int main(int argc, char **argv) {
	int n = argc > 1 ? atoi(argv[1]) : 10000;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	for (int i = 0; i < n; i++) {
		pthread_t t;
		if (pthread_create(&t, &attr, idle, NULL) != 0) {
			fprintf(stderr, "pthread_create failed after %d threads\n", i);
			return 1;
		}
	}
	printf("started %d\n", n);
	fflush(stdout);
	for (;;)
		pause();
}
