//! Read-only cluster metadata: [`view::MetadataView`] answers every question about topics,
//! partitions, leadership and endpoints from the applied metadata image; [`topic_meta`] is the
//! topic summary clients and admin APIs see. Nothing here changes metadata (that is `admin`) or
//! applies it to local state (that is `applier`).

pub mod topic_meta;
pub mod view;

pub use topic_meta::TopicMeta;
pub use view::MetadataView;
