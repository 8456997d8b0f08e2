//! The one integration test binary of `subtitles`.

mod parse;
mod props;
mod segment;
