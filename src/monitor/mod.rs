//! The container monitor (`berth monitor`).

pub mod proto;

pub fn main(_args: &[String]) -> i32 {
    todo!()
}
