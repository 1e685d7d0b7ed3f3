//! Retry delays for the pipeline: to be written (issue 11).
