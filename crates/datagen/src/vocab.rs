//! Words the generator draws from. Names, cities, countries and email providers come from the
//! `fake` crate's English locale; activity categories and titles are ours.

use fake::faker::address::raw::{CityName, CountryName};
use fake::locales::{Data, EN};
use fake::Fake;
use rand::seq::IndexedRandom;
use rand::{Rng, RngExt};

/// Activity categories, as `(category, title words)`.
pub(crate) const CATEGORIES: &[(&str, &[&str])] = &[
    (
        "hiking",
        &["Sunrise hike", "Ridge walk", "Forest trail", "Summit day"],
    ),
    (
        "running",
        &["Easy 5k", "Interval session", "Long run", "Parkrun warm-up"],
    ),
    (
        "cycling",
        &["Gravel ride", "Coffee ride", "Hill repeats", "City loop"],
    ),
    (
        "climbing",
        &["Bouldering night", "Top-rope basics", "Crag day"],
    ),
    ("yoga", &["Morning flow", "Yin yoga", "Yoga in the park"]),
    (
        "board-games",
        &["Strategy night", "Co-op games", "Euro games afternoon"],
    ),
    (
        "cooking",
        &["Pasta workshop", "Street food night", "Bread baking"],
    ),
    (
        "photography",
        &["Golden hour walk", "Street photo meetup", "Night shots"],
    ),
    (
        "language-exchange",
        &["Spanish-English tandem", "French café", "German Stammtisch"],
    ),
    (
        "book-club",
        &["Classics circle", "Sci-fi book club", "Poetry evening"],
    ),
    ("music", &["Open jam", "Choir rehearsal", "Vinyl listening"]),
    (
        "volunteering",
        &["Beach clean-up", "Food bank shift", "Tree planting"],
    ),
];

/// Durations an activity may last, minutes.
pub(crate) const DURATIONS: &[u32] = &[45, 60, 90, 120, 180, 240];

/// How many distinct (city, country) pairs a run draws from: enough variety, and a city recurs
/// often enough that statistics by city mean something.
const PLACES: usize = 256;

/// Per-run vocabulary built once from the run's RNG.
#[derive(Debug, Clone)]
pub(crate) struct Vocab {
    pub(crate) places: Vec<(String, String)>,
}

impl Vocab {
    pub(crate) fn new<R: Rng + ?Sized>(rng: &mut R) -> Vocab {
        let places = (0..PLACES)
            .map(|_| {
                let city: String = CityName(EN).fake_with_rng(rng);
                let country: String = CountryName(EN).fake_with_rng(rng);
                (city, country)
            })
            .collect();
        Vocab { places }
    }

    pub(crate) fn place<R: Rng + ?Sized>(&self, rng: &mut R) -> &(String, String) {
        // PLACES > 0
        &self.places[rng.random_range(0..self.places.len())]
    }
}

/// Picks one element of a non-empty static list.
pub(crate) fn pick<'a, T, R: Rng + ?Sized>(rng: &mut R, items: &'a [T]) -> &'a T {
    items.choose(rng).unwrap_or(&items[0])
}

pub(crate) fn first_name<R: Rng + ?Sized>(rng: &mut R) -> &'static str {
    EN::NAME_FIRST_NAME.choose(rng).copied().unwrap_or("Ada")
}

pub(crate) fn last_name<R: Rng + ?Sized>(rng: &mut R) -> &'static str {
    EN::NAME_LAST_NAME
        .choose(rng)
        .copied()
        .unwrap_or("Lovelace")
}

pub(crate) fn email_provider<R: Rng + ?Sized>(rng: &mut R) -> &'static str {
    EN::INTERNET_FREE_EMAIL_PROVIDER
        .choose(rng)
        .copied()
        .unwrap_or("example.org")
}
