package weir.connect;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.errors.ConnectException;
import org.apache.kafka.connect.source.SourceRecord;
import org.apache.kafka.connect.source.SourceTask;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The task of {@link FileSourceConnector} (a stand-in for Kafka's FileStreamSourceTask, see
 * package-info.java). Source partition {@code {filename: <file>}}, source offset
 * {@code {position: <byte position just after the line>, line: <1-based line number>}}: on start
 * the task asks Connect's offset storage for the last committed offset and continues right after
 * that line. Only complete lines (ended by '\n') are emitted; a trailing partial line waits for
 * its newline.
 */
public class FileSourceTask extends SourceTask {
    private static final Logger log = LoggerFactory.getLogger(FileSourceTask.class);
    static final String FILENAME_FIELD = "filename";
    static final String POSITION_FIELD = "position";
    static final String LINE_FIELD = "line";
    private static final long IDLE_WAIT_MS = 50;

    private String filename;
    private String topic;
    private int batchSize;
    private Map<String, String> partition;
    private RandomAccessFile file;
    private long position;  // byte position just after the last emitted line
    private long line;      // number of lines emitted from this file (in all runs)
    private final ByteArrayOutputStream pending = new ByteArrayOutputStream();
    private final byte[] buffer = new byte[8192];
    private volatile boolean stopping;

    @Override
    public String version() {
        return FileConnectors.VERSION;
    }

    @Override
    public void start(Map<String, String> props) {
        filename = props.get(FileSourceConnector.FILE_CONFIG);
        topic = props.get(FileSourceConnector.TOPIC_CONFIG);
        String batch = props.get(FileSourceConnector.BATCH_SIZE_CONFIG);
        batchSize = batch == null ? FileSourceConnector.DEFAULT_BATCH_SIZE : Integer.parseInt(batch);
        partition = Map.of(FILENAME_FIELD, filename);
        Map<String, Object> offset = context.offsetStorageReader().offset(partition);
        position = 0;
        line = 0;
        if (offset != null) {
            Object pos = offset.get(POSITION_FIELD);
            Object ln = offset.get(LINE_FIELD);
            if (!(pos instanceof Long) || !(ln instanceof Long)) {
                throw new ConnectException("unexpected stored offset for " + filename + ": " + offset);
            }
            position = (Long) pos;
            line = (Long) ln;
        }
        log.info("FileSourceTask {} -> {}: starting at byte {} after line {} (stored offset {})",
                 filename, topic, position, line, offset);
    }

    @Override
    public List<SourceRecord> poll() throws InterruptedException {
        if (stopping) {
            close();
            return null;
        }
        try {
            if (file == null) {
                try {
                    file = new RandomAccessFile(filename, "r");
                } catch (java.io.FileNotFoundException e) {
                    Thread.sleep(IDLE_WAIT_MS);
                    return null;
                }
                file.seek(position);
                pending.reset();
            }
            List<SourceRecord> records = new ArrayList<>();
            long consumed = position + pending.size();  // bytes read so far
            while (records.size() < batchSize) {
                int n = file.read(buffer);
                if (n <= 0) {
                    break;
                }
                int start = 0;
                for (int i = 0; i < n && records.size() < batchSize; i++) {
                    if (buffer[i] == '\n') {
                        pending.write(buffer, start, i - start);
                        consumed += i - start + 1;
                        start = i + 1;
                        String value = pending.toString(StandardCharsets.UTF_8);
                        pending.reset();
                        if (value.endsWith("\r")) {
                            value = value.substring(0, value.length() - 1);
                        }
                        position = consumed;
                        line++;
                        records.add(new SourceRecord(partition,
                            Map.of(POSITION_FIELD, position, LINE_FIELD, line),
                            topic, null, null, null, Schema.STRING_SCHEMA, value, null));
                    }
                }
                if (records.size() >= batchSize && start < n) {
                    // Batch full: re-read the rest of the buffer on the next poll.
                    file.seek(consumed);
                    break;
                }
                pending.write(buffer, start, n - start);
                consumed += n - start;
            }
            if (records.isEmpty()) {
                Thread.sleep(IDLE_WAIT_MS);
                return null;
            }
            return records;
        } catch (IOException e) {
            throw new ConnectException("reading " + filename, e);
        }
    }

    @Override
    public void stop() {
        // Called from another thread than poll(): only flag it, poll() closes the file.
        stopping = true;
    }

    private void close() {
        try {
            if (file != null) {
                file.close();
            }
        } catch (IOException e) {
            log.warn("closing {}", filename, e);
        }
        file = null;
    }
}
