import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

// OomDirect prints "ready", waits for a line on standard input, then
// allocates 8 MiB direct buffers every 50 ms and keeps them, touching every
// page so they count against the cgroup. With -XX:MaxDirectMemorySize above
// the cgroup limit the kernel OOM killer ends it (exit 137).
public class OomDirect {
    public static void main(String[] args) throws Exception {
        System.out.println("ready");
        System.out.flush();
        System.in.read();
        List<ByteBuffer> keep = new ArrayList<>();
        for (int i = 1; ; i++) {
            ByteBuffer b = ByteBuffer.allocateDirect(8 << 20);
            for (int off = 0; off < b.capacity(); off += 4096) {
                b.put(off, (byte) 1);
            }
            keep.add(b);
            System.out.println("allocated MiB direct: " + (8 * i));
            Thread.sleep(50);
        }
    }
}
