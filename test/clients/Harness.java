// test/clients/Harness.java: what test/copy_ways.py and test/clients.py ask of
// the JDBC program of docs/clients.md (AstpgClient, compiled beside it).
//
//   java Harness copy URL FILE       AstpgClient.copyNdjson(FILE, abort); prints the counts
//   java Harness varchar URL DOC     ingest with setString and no cast, then with
//                                    stringtype=unspecified: what each answers
//   java Harness prepared URL N [documented]
//                                    N ingests with the driver's default
//                                    prepareThreshold (or through
//                                    AstpgClient.connect) while another such
//                                    connection holds a transaction every other call;
//                                    prints the SQLSTATEs of the failures
//                                    (through a transaction pooler, some)
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;

public class Harness {
    public static void main(String[] args) throws Exception {
        String url = args[1];
        switch (args[0]) {
            case "copy" -> {
                try (Connection conn = AstpgClient.connect(url)) {
                    StringBuilder out = new StringBuilder("copy:");
                    AstpgClient.copyNdjson(conn, Path.of(args[2]), "abort")
                            .forEach((k, v) -> out.append(" ").append(k).append("=").append(v));
                    System.out.println(out);
                }
            }
            case "varchar" -> {
                String sql = "SELECT status FROM astpg.ingest(?)";
                try (Connection conn = DriverManager.getConnection(url);
                     PreparedStatement st = conn.prepareStatement(sql)) {
                    st.setString(1, args[2]);
                    st.executeQuery();
                    System.out.println("setString: no error");
                } catch (SQLException e) {
                    System.out.println("setString: " + e.getSQLState() + " " + e.getMessage().split("\n")[0]);
                }
                Properties props = new Properties();
                props.setProperty("stringtype", "unspecified");
                try (Connection conn = DriverManager.getConnection(url, props);
                     PreparedStatement st = conn.prepareStatement(sql)) {
                    st.setString(1, args[2]);
                    try (ResultSet rs = st.executeQuery()) {
                        rs.next();
                        System.out.println("stringtype=unspecified: " + rs.getString(1));
                    }
                }
            }
            case "prepared" -> {
                // every other call another client (the holder) holds a server
                // connection in a transaction, so that a pooler gives this one
                // another; both connect alike, and a failure of either counts
                // (the driver's own retries hide some of the client's, not the
                // holder's); a connection a failure broke is opened again
                int n = Integer.parseInt(args[2]);
                boolean documented = args.length > 3 && args[3].equals("documented");
                Map<String, Integer> failures = new TreeMap<>();
                Connection c = null, holder = null;
                for (int i = 0; i < n; i++) {
                    try {
                        if (c == null || c.isClosed())
                            c = documented ? AstpgClient.connect(url) : DriverManager.getConnection(url);
                        if (holder == null || holder.isClosed()) {
                            holder = documented ? AstpgClient.connect(url) : DriverManager.getConnection(url);
                            holder.setAutoCommit(false);
                        }
                        if (i % 2 == 0)
                            holder.createStatement().execute("SELECT 1");
                        else
                            holder.commit();
                        try (PreparedStatement st = c.prepareStatement(
                                "SELECT status FROM astpg.ingest(?::jsonb)")) {
                            st.setString(1, "{\"repository\": \"jdbc-prepared\", \"path\": \"p" + i
                                    + ".py\", \"language\": \"python\"}");
                            st.executeQuery().close();
                        }
                    } catch (SQLException e) {
                        failures.merge(e.getSQLState() == null ? "none" : e.getSQLState(), 1, Integer::sum);
                    }
                }
                for (Connection x : new Connection[] {c, holder})
                    try {
                        if (x != null)
                            x.close();
                    } catch (SQLException e) {
                        // a broken connection: nothing to close
                    }
                System.out.println("failures: " + failures);
            }
            default -> throw new IllegalArgumentException(args[0]);
        }
    }
}
