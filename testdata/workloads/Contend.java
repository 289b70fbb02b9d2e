// Contend: 16 threads contend on one synchronized monitor, each holding it
// for a short busy critical section (Java lock convoy).
// Usage: java Contend.java [threads]
public class Contend {
    static final Object LOCK = new Object();
    static volatile long sink;

    public static void main(String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 16;
        Thread[] ts = new Thread[n];
        for (int i = 0; i < n; i++) {
            ts[i] = new Thread(() -> {
                while (true) {
                    synchronized (LOCK) {
                        long x = 0;
                        for (int j = 0; j < 200000; j++) x += j ^ sink;
                        sink = x;
                    }
                }
            }, "worker-" + i);
            ts[i].start();
        }
        System.out.println("started");
        for (Thread t : ts) t.join();
    }
}
