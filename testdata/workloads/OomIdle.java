// OomIdle prints "ready" and sleeps: a JVM that fits its limit.
public class OomIdle {
    public static void main(String[] args) throws Exception {
        System.out.println("ready");
        System.out.flush();
        Thread.sleep(600_000);
    }
}
