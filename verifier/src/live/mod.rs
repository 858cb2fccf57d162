//! The live views, pure renderings of what is being followed: [`view`] (the snapshot every
//! view reads), [`status`] (`/metrics` and `/status` of `watch`), [`dashboard`] (the terminal
//! dashboard), [`progress`] (the progress line), and the daemon's page: [`row`] (one run in a
//! line) and [`web`] (the list of runs and a run's live page).

pub(crate) mod dashboard;
pub(crate) mod progress;
pub(crate) mod row;
pub(crate) mod status;
pub(crate) mod view;
pub(crate) mod web;
