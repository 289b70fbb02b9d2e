// epollserver: an idle TCP server: the main thread waits in epoll_wait on a
// listening socket nobody connects to, a second thread blocks in accept()
// on another. Prints the two ports. Usage: epollserver
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static int listener(void) {
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 16))
		return -1;
	socklen_t al = sizeof a;
	getsockname(s, (struct sockaddr *)&a, &al);
	printf("%d\n", ntohs(a.sin_port));
	fflush(stdout);
	return s;
}

static void *acceptor(void *arg) {
	int s = *(int *)arg;
	for (;;) {
		int c = accept(s, NULL, NULL);
		if (c >= 0)
			close(c);
	}
	return NULL;
}

int main(void) {
	int s1 = listener(), s2 = listener();
	if (s1 < 0 || s2 < 0)
		return 1;
	pthread_t t;
	pthread_create(&t, NULL, acceptor, &s2);
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = s1};
	epoll_ctl(ep, EPOLL_CTL_ADD, s1, &ev);
	for (;;) {
		struct epoll_event out[8];
		int n = epoll_wait(ep, out, 8, -1);
		for (int i = 0; i < n; i++) {
			int c = accept(out[i].data.fd, NULL, NULL);
			if (c >= 0)
				close(c);
		}
	}
}
