package weir.connect;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collection;
import java.util.Map;

import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.connect.errors.ConnectException;
import org.apache.kafka.connect.sink.SinkRecord;
import org.apache.kafka.connect.sink.SinkTask;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The task of {@link FileSinkConnector} (a stand-in for Kafka's FileStreamSinkTask, see
 * package-info.java): appends each record's value (its String form, "null" for a null value)
 * and a '\n' to the file. flush() (called by Connect before it commits the consumer group's
 * offsets) writes everything out, so a committed offset never covers a line not in the file.
 */
public class FileSinkTask extends SinkTask {
    private static final Logger log = LoggerFactory.getLogger(FileSinkTask.class);

    private Path path;
    private BufferedWriter out;

    @Override
    public String version() {
        return FileConnectors.VERSION;
    }

    @Override
    public void start(Map<String, String> props) {
        path = Path.of(props.get(FileSinkConnector.FILE_CONFIG));
        try {
            out = Files.newBufferedWriter(path, StandardCharsets.UTF_8,
                StandardOpenOption.CREATE, StandardOpenOption.APPEND, StandardOpenOption.WRITE);
        } catch (IOException e) {
            throw new ConnectException("opening " + path, e);
        }
        log.info("FileSinkTask -> {}", path);
    }

    @Override
    public void put(Collection<SinkRecord> records) {
        try {
            for (SinkRecord record : records) {
                out.write(String.valueOf(record.value()));
                out.write('\n');
            }
            // Visible to readers at once (the test polls the file), not only at the next commit.
            out.flush();
        } catch (IOException e) {
            throw new ConnectException("writing " + path, e);
        }
    }

    @Override
    public void flush(Map<TopicPartition, OffsetAndMetadata> currentOffsets) {
        try {
            out.flush();
        } catch (IOException e) {
            throw new ConnectException("flushing " + path, e);
        }
    }

    @Override
    public void stop() {
        try {
            if (out != null) {
                out.close();
            }
        } catch (IOException e) {
            log.warn("closing {}", path, e);
        }
    }
}
