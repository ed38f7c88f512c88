package weir.connect;

import java.util.List;
import java.util.Map;

import org.apache.kafka.common.config.AbstractConfig;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.connect.connector.Task;
import org.apache.kafka.connect.source.ExactlyOnceSupport;
import org.apache.kafka.connect.source.SourceConnector;

/**
 * Stand-in for Kafka's FileStreamSourceConnector (org.apache.kafka:connect-file is not available
 * from the Maven registry here, see package-info.java): reads the lines of {@code file} and emits
 * each one as a String value (no key) to {@code topic}; one task.
 */
public class FileSourceConnector extends SourceConnector {
    public static final String FILE_CONFIG = "file";
    public static final String TOPIC_CONFIG = "topic";
    public static final String BATCH_SIZE_CONFIG = "batch.size";
    public static final int DEFAULT_BATCH_SIZE = 2000;

    static final ConfigDef CONFIG_DEF = new ConfigDef()
        .define(FILE_CONFIG, ConfigDef.Type.STRING, ConfigDef.NO_DEFAULT_VALUE,
                new ConfigDef.NonEmptyString(), ConfigDef.Importance.HIGH,
                "Source file: every complete line becomes one record.")
        .define(TOPIC_CONFIG, ConfigDef.Type.STRING, ConfigDef.NO_DEFAULT_VALUE,
                new ConfigDef.NonEmptyString(), ConfigDef.Importance.HIGH,
                "The topic to publish the lines to.")
        .define(BATCH_SIZE_CONFIG, ConfigDef.Type.INT, DEFAULT_BATCH_SIZE, ConfigDef.Range.atLeast(1),
                ConfigDef.Importance.LOW, "The maximum number of records one poll() returns.");

    private Map<String, String> props;

    @Override
    public String version() {
        return FileConnectors.VERSION;
    }

    @Override
    public void start(Map<String, String> props) {
        AbstractConfig config = new AbstractConfig(CONFIG_DEF, props);
        if (config.getString(TOPIC_CONFIG).contains(",")) {
            throw new ConfigException("'topic' must be a single topic");
        }
        this.props = Map.copyOf(props);
    }

    @Override
    public Class<? extends Task> taskClass() {
        return FileSourceTask.class;
    }

    @Override
    public List<Map<String, String>> taskConfigs(int maxTasks) {
        // One file, one reader: a single task whatever tasks.max says (as FileStreamSourceConnector).
        return List.of(props);
    }

    @Override
    public void stop() {
    }

    @Override
    public ConfigDef config() {
        return CONFIG_DEF;
    }

    @Override
    public ExactlyOnceSupport exactlyOnceSupport(Map<String, String> props) {
        // Offsets are byte positions in a file that only grows: replaying from one is exact.
        return ExactlyOnceSupport.SUPPORTED;
    }
}
