// thread_churn: W workers (default 4) each start a short-lived thread, join
// it and start the next, as fast as they can, so threads appear and vanish
// between diagnose's listing of /proc/PID/task and its reads of the files
// inside. Prints "started" and runs until killed.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void *brief(void *arg) {
	volatile unsigned long x = 0;
	for (int i = 0; i < 2000; i++)
		x += i;
	(void)arg;
	return NULL;
}

static void *worker(void *arg) {
	(void)arg;
	for (;;) {
		pthread_t t;
		if (pthread_create(&t, NULL, brief, NULL) == 0)
			pthread_join(t, NULL);
	}
	return NULL;
}

int main(int argc, char **argv) {
	int w = argc > 1 ? atoi(argv[1]) : 4;
	for (int i = 0; i < w; i++) {
		pthread_t t;
		pthread_create(&t, NULL, worker, NULL);
	}
	printf("started\n");
	fflush(stdout);
	for (;;)
		pause();
}
