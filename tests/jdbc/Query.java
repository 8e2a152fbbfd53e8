import java.sql.Array;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

/**
 * Runs one statement through the official ClickHouse JDBC driver, as a BI tool would, and prints what it read.
 *
 * Usage: Query URL USER PASSWORD SQL. The first line names the columns with the ClickHouse type the driver
 * reports; each row follows as tab-separated "java.class.Name=value" cells (getObject's class, so a test can
 * check the typed mapping, not only the text), "null" for NULL, arrays as [class=value, ...]; a
 * java.sql.Timestamp prints as JDBC renders it, the column's wall clock whatever the JVM's timezone. A statement
 * without a result prints "updated N". Any failure exits 1 with the exception chain on stderr.
 */
public final class Query {
    private Query() {}

    public static void main(String[] args) {
        if (args.length != 4) {
            System.err.println("usage: Query URL USER PASSWORD SQL");
            System.exit(2);
        }
        Properties properties = new Properties();
        properties.setProperty("user", args[1]);
        properties.setProperty("password", args[2]);
        try (Connection connection = DriverManager.getConnection(args[0], properties);
             Statement statement = connection.createStatement()) {
            if (statement.execute(args[3])) {
                try (ResultSet rows = statement.getResultSet()) {
                    print(rows);
                }
            } else {
                System.out.println("updated " + statement.getUpdateCount());
            }
        } catch (SQLException | RuntimeException e) {
            for (Throwable cause = e; cause != null; cause = cause.getCause()) {
                System.err.println(cause.getClass().getName() + ": " + cause.getMessage());
            }
            System.exit(1);
        }
    }

    private static void print(ResultSet rows) throws SQLException {
        ResultSetMetaData meta = rows.getMetaData();
        List<String> header = new ArrayList<>();
        for (int i = 1; i <= meta.getColumnCount(); i++) {
            header.add(meta.getColumnLabel(i) + ":" + meta.getColumnTypeName(i));
        }
        System.out.println(String.join("\t", header));
        while (rows.next()) {
            List<String> cells = new ArrayList<>();
            for (int i = 1; i <= meta.getColumnCount(); i++) {
                cells.add(cell(rows.getObject(i)));
            }
            System.out.println(String.join("\t", cells));
        }
    }

    private static String cell(Object value) throws SQLException {
        if (value == null) {
            return "null";
        }
        if (value instanceof Array array) {
            value = array.getArray();
        }
        if (value instanceof Object[] items) {
            List<String> parts = new ArrayList<>();
            for (Object item : items) {
                parts.add(cell(item));
            }
            return "[" + String.join(", ", parts) + "]";
        }
        if (value instanceof List<?> items) {
            List<String> parts = new ArrayList<>();
            for (Object item : items) {
                parts.add(cell(item));
            }
            return "[" + String.join(", ", parts) + "]";
        }
        return value.getClass().getName() + "=" + value;
    }
}
