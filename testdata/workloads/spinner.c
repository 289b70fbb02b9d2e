// spinner: burns CPU in N threads (default 1) until killed.
// Usage: spinner [threads]
#include <pthread.h>
#include <stdlib.h>

static volatile unsigned long sink;

static void *spin(void *arg) {
	(void)arg;
	for (;;)
		sink++;
	return NULL;
}

int main(int argc, char **argv) {
	int n = argc > 1 ? atoi(argv[1]) : 1;
	if (n < 1)
		n = 1;
	for (int i = 1; i < n; i++) {
		pthread_t t;
		pthread_create(&t, NULL, spin, NULL);
	}
	spin(NULL);
	return 0;
}
