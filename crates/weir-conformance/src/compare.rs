//! One request shape sent to both brokers and the two outcomes compared.

use kafka_protocol::messages::{ApiKey, RequestKind};

use crate::normalize::{diff, normalise, Diff};
use crate::records::summarise_response;
use crate::shapes::{Ctx, Shape};
use crate::wire::{Conn, Outcome};

/// How the two brokers' outcomes compare.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    /// Equal after normalisation.
    Same,
    /// How they differ.
    Differ(Diff),
}

/// The two brokers (Kafka first) with what the shapes need to know about each.
pub struct Pair {
    /// Apache Kafka.
    pub kafka: Conn,
    /// Its context.
    pub kafka_ctx: Ctx,
    /// Weir.
    pub weir: Conn,
    /// Its context.
    pub weir_ctx: Ctx,
    /// Print both normalised responses of the next comparisons to stderr (triage).
    pub dump: bool,
}

fn describe(o: &Outcome) -> String {
    match o {
        Outcome::Response(_) => "a response".into(),
        Outcome::Closed => "closed the connection".into(),
        Outcome::Silent => "no answer".into(),
        Outcome::Undecodable(e) => format!("an undecodable answer ({e})"),
    }
}

fn lines(o: &mut Outcome, mask: &[&str]) -> Option<Vec<(String, String)>> {
    let Outcome::Response(r) = o else { return None };
    summarise_response(r);
    Some(normalise(&format!("{r:#?}"), mask))
}

/// Compare two outcomes of the same request.
pub fn verdict(mut k: Outcome, mut w: Outcome, mask: &[&str]) -> Verdict {
    match (lines(&mut k, mask), lines(&mut w, mask)) {
        (Some(kl), Some(wl)) => match diff(&kl, &wl) {
            None => Verdict::Same,
            Some(d) => Verdict::Differ(d),
        },
        _ => {
            let (kd, wd) = (describe(&k), describe(&w));
            if kd == wd {
                Verdict::Same
            } else {
                Verdict::Differ(Diff {
                    first: format!("outcome: kafka={kd} weir={wd}"),
                    lines: 1,
                    detail: Vec::new(),
                })
            }
        }
    }
}

impl Pair {
    /// Send `shape` of `key` at `v` to Kafka, then to Weir, and compare.
    pub fn run(&mut self, key: ApiKey, v: i16, shape: &Shape) -> Result<Verdict, String> {
        let k = self.kafka.call(key, v, &(shape.build)(&self.kafka_ctx))?;
        let w = self.weir.call(key, v, &(shape.build)(&self.weir_ctx))?;
        if self.dump {
            for (who, o) in [("kafka", &k), ("weir", &w)] {
                if let Outcome::Response(r) = o {
                    for (p, val) in normalise(&format!("{r:#?}"), &shape.mask) {
                        eprintln!("{who} {p} = {val}");
                    }
                }
            }
        }
        Ok(verdict(k, w, &shape.mask))
    }

    /// Send `req` under a header saying version `header_v` (its body encoded at `body_v`),
    /// decode answers at `decode_v`, and compare.
    pub fn run_raw(
        &mut self,
        key: ApiKey,
        header_v: i16,
        body_v: i16,
        decode_v: i16,
        req: &RequestKind,
        mask: &[&str],
    ) -> Result<Verdict, String> {
        let k = self.kafka.send(key, header_v, body_v, decode_v, req)?;
        let w = self.weir.send(key, header_v, body_v, decode_v, req)?;
        Ok(verdict(k, w, mask))
    }
}
