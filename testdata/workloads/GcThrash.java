// GcThrash: a live set that fills most of the heap, and allocation that
// keeps replacing it, so the collector runs back to back: run with a small
// -Xmx (the tests use -Xmx48m). Usage: java -Xmx48m GcThrash.java [live-percent]
import java.util.*;

public class GcThrash {
    public static void main(String[] args) throws Exception {
        int livePct = args.length > 0 ? Integer.parseInt(args[0]) : 60;
        long max = Runtime.getRuntime().maxMemory();
        int chunk = 64 * 1024;
        int n = (int) (max * livePct / 100 / chunk);
        List<byte[]> live = new ArrayList<>(n);
        for (int i = 0; i < n; i++) live.add(new byte[chunk]);
        System.out.println("started");
        Random r = new Random(1);
        long sink = 0;
        while (true) {
            // Replace a live chunk: the old one is garbage only once the new one exists.
            byte[] b = new byte[chunk];
            b[r.nextInt(chunk)] = 1;
            live.set(r.nextInt(n), b);
            sink += b[0];
            if (sink == 42) System.out.print("");
        }
    }
}
