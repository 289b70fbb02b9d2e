// Idle: an idle JVM: a thread pool with no work, a scheduled task that runs
// rarely, and the main thread parked. Every thread waits in futex.
// Usage: java Idle.java
import java.util.concurrent.*;

public class Idle {
    public static void main(String[] args) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(8);
        for (int i = 0; i < 8; i++) pool.submit(() -> { });
        ScheduledExecutorService s = Executors.newScheduledThreadPool(1);
        s.scheduleAtFixedRate(() -> { }, 1, 1, TimeUnit.SECONDS);
        System.out.println("started");
        new CountDownLatch(1).await();
    }
}
