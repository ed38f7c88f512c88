package weir.connect;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.connect.connector.Task;
import org.apache.kafka.connect.sink.SinkConnector;

/**
 * Stand-in for Kafka's FileStreamSinkConnector (org.apache.kafka:connect-file is not available
 * from the Maven registry here, see package-info.java): appends the value of every record of
 * the connector's {@code topics} as one line to {@code file}.
 */
public class FileSinkConnector extends SinkConnector {
    public static final String FILE_CONFIG = "file";

    static final ConfigDef CONFIG_DEF = new ConfigDef()
        .define(FILE_CONFIG, ConfigDef.Type.STRING, ConfigDef.NO_DEFAULT_VALUE,
                new ConfigDef.NonEmptyString(), ConfigDef.Importance.HIGH,
                "Destination file: every record's value is appended as one line.");

    private Map<String, String> props;

    @Override
    public String version() {
        return FileConnectors.VERSION;
    }

    @Override
    public void start(Map<String, String> props) {
        this.props = Map.copyOf(props);
    }

    @Override
    public Class<? extends Task> taskClass() {
        return FileSinkTask.class;
    }

    @Override
    public List<Map<String, String>> taskConfigs(int maxTasks) {
        // Several tasks would interleave their lines in one file: one task (as FileStreamSinkConnector).
        List<Map<String, String>> configs = new ArrayList<>();
        configs.add(props);
        return configs;
    }

    @Override
    public void stop() {
    }

    @Override
    public ConfigDef config() {
        return CONFIG_DEF;
    }
}
