// Readiness check for kafka.sh start, run with Java's source launcher against the broker's own
// jars: java -cp 'libs/*' Ready.java HOST:PORT SECONDS
//
// Exits 0 once the broker answers describeCluster with at least one node and a controller and
// lists topics; exits 1 if it does not within SECONDS.

import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterResult;

public class Ready {
    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: Ready HOST:PORT SECONDS");
            System.exit(2);
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(Long.parseLong(args[1]));
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "3000");
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "4000");
        p.put(AdminClientConfig.RECONNECT_BACKOFF_MS_CONFIG, "100");
        p.put(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "500");
        p.put(AdminClientConfig.CLIENT_ID_CONFIG, "atlas-kafka-ready");
        String last = "no answer";
        try (Admin admin = Admin.create(p)) {
            while (System.nanoTime() < deadline) {
                try {
                    DescribeClusterResult c = admin.describeCluster();
                    int nodes = c.nodes().get(4, TimeUnit.SECONDS).size();
                    boolean controller = c.controller().get(4, TimeUnit.SECONDS) != null;
                    int topics = admin.listTopics().names().get(4, TimeUnit.SECONDS).size();
                    if (nodes > 0 && controller) {
                        System.err.printf("broker %s answers: %d node(s), %d topic(s)%n", args[0], nodes, topics);
                        return;
                    }
                    last = nodes + " nodes, controller " + controller;
                } catch (Exception e) {
                    last = e.toString();
                }
                Thread.sleep(200);
            }
        }
        System.err.println("broker " + args[0] + " not ready: " + last);
        System.exit(1);
    }
}
