// mutex: N threads (default 16) contend on one pthread mutex; each holds it
// for a short critical section, so all but one wait in futex and keep
// waking and re-blocking (a lock convoy). Usage: mutex [threads]
#include <pthread.h>
#include <stdlib.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static volatile unsigned long counter;

static void *work(void *arg) {
	(void)arg;
	for (;;) {
		pthread_mutex_lock(&mu);
		for (int i = 0; i < 20000; i++)
			counter++;
		pthread_mutex_unlock(&mu);
	}
	return NULL;
}

int main(int argc, char **argv) {
	int n = argc > 1 ? atoi(argv[1]) : 16;
	if (n < 1)
		n = 1;
	pthread_t *t = calloc(n, sizeof *t);
	for (int i = 0; i < n; i++)
		pthread_create(&t[i], NULL, work, NULL);
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	return 0;
}
