//! The berth client.

pub fn main(_args: &[String]) -> i32 {
    todo!()
}
