// HttpClientLoad: THREADS caller threads share one java.net.http.HttpClient
// (HTTP/1.1, default executor) and loop a synchronous send() of GET URL. The
// client's selector thread waits in epoll_wait; the callers park in futex
// until their response arrives. Exits on SIGTERM, on SIGINT unless the JVM
// inherited SIGINT ignored (as `cmd &` does in a non-interactive shell: the
// JVM then leaves it ignored), or when its parent dies (a daemon thread polls
// the parent PID every second).
// Usage: java -Xmx64m HttpClientLoad.java URL [THREADS=8]
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse.BodyHandlers;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;

public class HttpClientLoad {
    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: java HttpClientLoad.java URL [THREADS=8]");
            System.exit(2);
        }
        URI uri = URI.create(args[0]);
        int threads = args.length > 1 ? Integer.parseInt(args[1]) : 8;
        watchParent();
        HttpClient client = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5))
                .build();
        HttpRequest request = HttpRequest.newBuilder(uri).GET().build();
        CountDownLatch first = new CountDownLatch(1);
        Thread[] callers = new Thread[threads];
        for (int i = 0; i < threads; i++) {
            callers[i] = new Thread(() -> {
                while (true) {
                    try {
                        client.send(request, BodyHandlers.ofString());
                        first.countDown();
                    } catch (InterruptedException e) {
                        return;
                    } catch (Exception e) {
                        System.err.println("HttpClientLoad: " + e);
                        try {
                            Thread.sleep(100);
                        } catch (InterruptedException ie) {
                            return;
                        }
                    }
                }
            }, "caller-" + i);
            callers[i].start();
        }
        first.await();
        System.out.println("started");
        System.out.flush();
        for (Thread t : callers) t.join();
    }

    // Java has no PR_SET_PDEATHSIG: exit once this process is reparented.
    static void watchParent() {
        long parent = ProcessHandle.current().parent().map(ProcessHandle::pid).orElse(-1L);
        Thread w = new Thread(() -> {
            while (true) {
                try {
                    Thread.sleep(1000);
                } catch (InterruptedException e) {
                    return;
                }
                long now = ProcessHandle.current().parent().map(ProcessHandle::pid).orElse(-1L);
                if (now != parent) Runtime.getRuntime().halt(0);
            }
        }, "parent-watch");
        w.setDaemon(true);
        w.start();
    }
}
