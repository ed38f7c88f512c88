package weir.connect;

/** Shared by the FileStream stand-ins of this package (see package-info.java). */
final class FileConnectors {
    static final String VERSION = "4.4.0-weir";

    private FileConnectors() {
    }
}
