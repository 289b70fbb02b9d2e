// GcRoomy: a small live set in a roomy heap and a modest stream of
// short-lived garbage: young collections now and then, nothing to fix.
// Usage: java -Xmx256m GcRoomy.java
import java.util.*;

public class GcRoomy {
    public static void main(String[] args) throws Exception {
        List<byte[]> live = new ArrayList<>();
        for (int i = 0; i < 100; i++) live.add(new byte[64 * 1024]);
        System.out.println("started");
        long sink = 0;
        while (true) {
            for (int i = 0; i < 200; i++) {
                byte[] garbage = new byte[16 * 1024];
                garbage[i % garbage.length] = 1;
                sink += garbage[0];
            }
            Thread.sleep(10);
            if (sink == 42) System.out.print("");
        }
    }
}
