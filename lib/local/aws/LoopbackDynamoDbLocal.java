import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.CommandLineInput;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

/**
 * Runs DynamoDB Local with its usual command line, but listening on 127.0.0.1 only.
 *
 * <p>DynamoDB Local has no option for the address: its Jetty server listens on every interface, which would
 * put an unauthenticated database on the network. This launcher builds the server exactly as the jar's own
 * main class does (with the jar's public ServerRunner.createServerFromCommandLineArgs), then binds Jetty's
 * connectors to loopback before starting it. Run in Java's single-file source mode by
 * lib/local/aws/dynamodb-local.ts, so the repository ships no compiled code.
 *
 * <p>Anything unexpected in the server's shape ends the process with exit code 3 and a line starting with
 * LOOPBACK_LAUNCHER_FAILED, instead of falling back to listening everywhere.
 */
public final class LoopbackDynamoDbLocal {
  private static final String LOOPBACK = "127.0.0.1";
  private static final int SHAPE_MISMATCH_EXIT_CODE = 3;

  private LoopbackDynamoDbLocal() {}

  public static void main(String[] args) throws Exception {
    // -help and -version print and stop here, as they do with the jar's own main class.
    if (!new CommandLineInput(args).init()) {
      return;
    }
    DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
    Server jetty = jettyServerOf(proxy);
    Connector[] connectors = jetty.getConnectors();
    if (connectors.length == 0) {
      fail("the Jetty server has no connector");
    }
    for (Connector connector : connectors) {
      if (!(connector instanceof ServerConnector)) {
        fail("unexpected Jetty connector " + connector.getClass().getName());
      }
      ((ServerConnector) connector).setHost(LOOPBACK);
    }
    // Like the jar's main class: start() reports a port already in use on stderr and stops the server.
    proxy.start();
  }

  /** The Jetty server is a private field; found by its type so that a renamed field does not matter. */
  private static Server jettyServerOf(DynamoDBProxyServer proxy) throws IllegalAccessException {
    Server found = null;
    for (Field field : DynamoDBProxyServer.class.getDeclaredFields()) {
      if (field.getType() == Server.class) {
        if (found != null) {
          fail("DynamoDBProxyServer holds more than one Jetty server");
        }
        field.setAccessible(true);
        found = (Server) field.get(proxy);
      }
    }
    if (found == null) {
      fail("DynamoDBProxyServer holds no Jetty server");
    }
    return found;
  }

  private static void fail(String reason) {
    System.err.println(
        "LOOPBACK_LAUNCHER_FAILED: "
            + reason
            + "; this DynamoDB Local version is not one the launcher knows, so it refuses to start"
            + " rather than listen on every interface");
    System.exit(SHAPE_MISMATCH_EXIT_CODE);
  }
}
