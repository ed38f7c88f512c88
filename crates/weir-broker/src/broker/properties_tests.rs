//! `meta.properties`: parsing Kafka's and Weir's files, writing, and `weir format`'s rules.

use super::*;

const ID: &str = "MkU3OEVBNTcwNTJENDM2Qg";
const OTHER: &str = "AAAAAAAAAAAAAAAAAAAAAA";

#[test]
fn uuids_are_22_chars_of_base64url_and_valid_cluster_ids() {
    let id = random_uuid();
    assert_eq!(id.len(), 22);
    assert!(id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    assert_ne!(id, random_uuid());
    for _ in 0..100 {
        check_cluster_id(&random_uuid()).unwrap();
    }
    check_cluster_id(ID).unwrap();
    for bad in [
        "",
        "short",
        "MkU3OEVBNTcwNTJENDM2Qg=",
        "MkU3OEVBNTcwNTJENDM2Q!",
        "MkU3OEVBNTcwNTJENDM2Qh",
    ] {
        assert!(check_cluster_id(bad).is_err(), "{bad}");
    }
}

#[test]
fn base64url_matches_known_vectors() {
    assert_eq!(base64url_nopad(b"f"), "Zg");
    assert_eq!(base64url_nopad(b"fo"), "Zm8");
    assert_eq!(base64url_nopad(b"foo"), "Zm9v");
    assert_eq!(base64url_nopad(&[0xfb, 0xff]), "-_8");
}

#[test]
fn kafkas_file_parses_and_weirs_renders_in_kafkas_layout() {
    let kafka =
        "#\n#Thu Nov 26 10:00:00 UTC 2026\nnode.id=3\ndirectory.id=J8aAPcfLQt2bqs1JT_rMgQ\n\
                 version=1\ncluster.id=MkU3OEVBNTcwNTJENDM2Qg\n";
    let m = MetaProperties::parse(kafka, Path::new("m")).unwrap();
    assert_eq!(m.node_id, 3);
    assert_eq!(m.cluster_id, ID);
    assert_eq!(m.directory_id.as_deref(), Some("J8aAPcfLQt2bqs1JT_rMgQ"));
    assert!(!m.is_legacy());
    let text = m.render();
    assert!(text.starts_with("#\n#"), "{text}");
    assert_eq!(
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<_>>(),
        vec![
            "node.id=3",
            "directory.id=J8aAPcfLQt2bqs1JT_rMgQ",
            "version=1",
            "cluster.id=MkU3OEVBNTcwNTJENDM2Qg"
        ]
    );
    assert_eq!(MetaProperties::parse(&text, Path::new("m")).unwrap(), m);
}

#[test]
fn old_weir_files_are_legacy_and_broken_files_are_refused() {
    let old = "#\n#Written by Weir\nnode.id=1\nversion=1\ncluster.id=MkU3OEVBNTcwNTJENDM2Qg\n";
    assert!(MetaProperties::parse(old, Path::new("m"))
        .unwrap()
        .is_legacy());
    let broker_id = "version=0\nbroker.id=2\ncluster.id=x\n";
    assert_eq!(
        MetaProperties::parse(broker_id, Path::new("m"))
            .unwrap()
            .node_id,
        2
    );
    for bad in [
        "node.id=1\nversion=1\n",
        "version=1\ncluster.id=x\n",
        "node.id=one\ncluster.id=x\n",
        "version=2\nnode.id=1\ncluster.id=x\n",
    ] {
        let e = MetaProperties::parse(bad, Path::new("/d/meta.properties")).unwrap_err();
        assert!(e.to_string().contains("/d/meta.properties"), "{e}");
    }
}

#[test]
fn format_writes_once_and_refuses_another_identity() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("logs");
    assert!(matches!(
        format(&d, ID, 1, false).unwrap(),
        Formatted::Written(_)
    ));
    let m = MetaProperties::read(&d).unwrap().unwrap();
    assert_eq!((m.node_id, m.cluster_id.as_str()), (1, ID));
    assert_eq!(m.directory_id.as_ref().map(String::len), Some(22));
    let bytes = std::fs::read(d.join(META_PROPERTIES)).unwrap();
    // The same identity: refused unless --ignore-formatted, and then left as it is.
    assert!(format(&d, ID, 1, false)
        .unwrap_err()
        .to_string()
        .contains("--ignore-formatted"));
    assert!(matches!(
        format(&d, ID, 1, true).unwrap(),
        Formatted::AlreadyFormatted(_)
    ));
    // Another cluster or node id: always refused, naming both.
    let e = format(&d, OTHER, 1, true).unwrap_err().to_string();
    assert!(e.contains(ID) && e.contains(OTHER), "{e}");
    assert!(format(&d, ID, 2, true).is_err());
    assert!(format(&dir.path().join("x"), "not-a-uuid", 1, false).is_err());
    assert_eq!(std::fs::read(d.join(META_PROPERTIES)).unwrap(), bytes);
}

#[test]
fn a_file_of_another_node_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(read_for_node(dir.path(), 1).unwrap(), None);
    MetaProperties::new(1, ID).write(dir.path()).unwrap();
    assert_eq!(
        read_for_node(dir.path(), 1).unwrap().unwrap().cluster_id,
        ID
    );
    let e = read_for_node(dir.path(), 2).unwrap_err().to_string();
    assert!(e.contains("node.id=1") && e.contains("node.id=2"), "{e}");
}
