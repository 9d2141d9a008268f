//! Persons: persona (segment), demographics, identifiers (e-mail, phone, member card, web accounts) and the
//! parameters of their BG/NBD-like purchase process (rate, dropout probability, regularity, staples).

use rand::Rng;

use super::catalog::Category;
use super::contact::{Typo, card_number, mistype, new_email, phone_of, typed_email};
use super::sampling::{Cumulative, beta, chance, gamma, weighted_index};
use super::stores::{CITIES, STORES_PER_CITY};
use super::world::World;
use super::{HISTORY_START, REFERENCE_DAY, calendar::days_from_civil};

/// A shopper persona; it drives category affinities and agrees with CRM tags most of the time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment {
    /// Household with a baby: mother & baby goods.
    YoungParent,
    /// Pet food and litter.
    PetOwner,
    /// Beauty and apparel.
    BeautyFan,
    /// Coupons and bulk groceries.
    BargainHunter,
    /// Groceries and household goods.
    GeneralHousehold,
    /// Electronics and home.
    GadgetBuyer,
}

impl Segment {
    const ALL: [Segment; 6] = [
        Segment::YoungParent,
        Segment::PetOwner,
        Segment::BeautyFan,
        Segment::BargainHunter,
        Segment::GeneralHousehold,
        Segment::GadgetBuyer,
    ];
    const WEIGHTS: [f64; 6] = [0.15, 0.12, 0.15, 0.15, 0.30, 0.13];

    /// Snake-case name used in `persons.csv`.
    pub fn name(self) -> &'static str {
        match self {
            Segment::YoungParent => "young_parent",
            Segment::PetOwner => "pet_owner",
            Segment::BeautyFan => "beauty_fan",
            Segment::BargainHunter => "bargain_hunter",
            Segment::GeneralHousehold => "general_household",
            Segment::GadgetBuyer => "gadget_buyer",
        }
    }

    /// Relative category affinities, in [`Category::ALL`] order.
    fn affinity(self) -> [f64; 8] {
        match self {
            Segment::YoungParent => [3.0, 6.0, 0.2, 1.0, 2.0, 1.2, 0.4, 0.8],
            Segment::PetOwner => [3.0, 0.2, 6.0, 0.8, 2.0, 0.8, 0.4, 0.8],
            Segment::BeautyFan => [2.5, 0.2, 0.3, 6.0, 1.5, 2.5, 0.4, 0.6],
            Segment::BargainHunter => [5.0, 0.8, 0.8, 1.0, 3.0, 1.0, 0.3, 0.8],
            Segment::GeneralHousehold => [5.0, 0.3, 0.5, 1.0, 4.0, 1.0, 0.5, 1.5],
            Segment::GadgetBuyer => [2.5, 0.2, 0.3, 0.5, 1.5, 1.0, 4.0, 2.0],
        }
    }
}

/// Where a person shops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// Web shop only.
    WebOnly,
    /// Stores only.
    StoreOnly,
    /// Both, with the web share of purchases in `Person::web_share`.
    Both,
}

impl Channel {
    /// Name used in `persons.csv`.
    pub fn name(self) -> &'static str {
        match self {
            Channel::WebOnly => "web_only",
            Channel::StoreOnly => "store_only",
            Channel::Both => "both",
        }
    }
}

/// Loyalty tier of a card holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// Most frequent shoppers.
    Gold,
    /// Regular shoppers.
    Silver,
    /// Everyone else with a card.
    Bronze,
}

impl Tier {
    /// Canonical value name.
    pub fn name(self) -> &'static str {
        match self {
            Tier::Gold => "gold",
            Tier::Silver => "silver",
            Tier::Bronze => "bronze",
        }
    }
}

/// A member card, possibly replaced during the history.
#[derive(Debug, Clone)]
pub struct Card {
    /// The current card number (the only one the CRM knows).
    pub current: String,
    /// The replaced card and the day the new card took over.
    pub old: Option<(String, i32)>,
}

impl Card {
    /// The card printed on a receipt of that day.
    pub fn on(&self, day: i32) -> (&str, bool) {
        match &self.old {
            Some((old, until)) if day < *until => (old, true),
            _ => (&self.current, false),
        }
    }
}

/// A web shop account.
#[derive(Debug, Clone)]
pub struct WebAccount {
    /// `web_user_id`.
    pub id: String,
    /// The e-mail as stored on the account (copied onto every order line).
    pub email_typed: String,
    /// The sign-up typo in that e-mail, if any.
    pub typo: Option<Typo>,
    /// First day the account is used.
    pub opened_on: i32,
}

/// An item a person repurchases on a personal cycle.
#[derive(Debug, Clone)]
pub struct Staple {
    /// Product index.
    pub product: usize,
    /// Typical days between purchases.
    pub cycle: f64,
    /// Last day bought.
    pub last: Option<i32>,
}

/// One simulated person.
#[derive(Debug, Clone)]
pub struct Person {
    /// `P0000001`.
    pub id: String,
    /// Persona.
    pub segment: Segment,
    /// Channel preference.
    pub channel: Channel,
    /// Share of purchases made online (for `Channel::Both`).
    pub web_share: f64,
    /// Index into [`CITIES`].
    pub city: usize,
    /// Usual store index.
    pub home_store: usize,
    /// Gender (true = female).
    pub female: bool,
    /// Year of birth.
    pub birth_year: i32,
    /// Consent to marketing e-mail.
    pub opt_in: bool,
    /// Day of the first purchase.
    pub acquired: i32,
    /// Purchases per day while active.
    pub rate: f64,
    /// Probability of dropping out after each purchase.
    pub dropout: f64,
    /// Erlang shape of inter-purchase times (1 = Poisson, higher = more regular).
    pub regularity: u32,
    /// Share of web orders with a coupon.
    pub coupon_rate: f64,
    /// High-value customer.
    pub vip: bool,
    /// Loyalty tier (card holders only).
    pub tier: Option<Tier>,
    /// The e-mail the person uses (lower case), possibly a family member's.
    pub email: Option<String>,
    /// Whether `email` belongs to another person (family sharing).
    pub email_is_family: bool,
    /// 11-digit mobile number.
    pub phone: Option<String>,
    /// Member card.
    pub card: Option<Card>,
    /// Web accounts (0, 1 or 2).
    pub accounts: Vec<WebAccount>,
    /// Category choice weights.
    pub affinity: Cumulative,
    /// Repurchased items.
    pub staples: Vec<Staple>,
}

/// Generates person `index`.
pub fn generate<R: Rng>(index: u64, rng: &mut R, world: &mut World) -> Person {
    let segment = Segment::ALL[weighted_index(rng, &Segment::WEIGHTS)];
    let channel = match rng.r#gen::<f64>() {
        x if x < 0.35 => Channel::WebOnly,
        x if x < 0.75 => Channel::StoreOnly,
        _ => Channel::Both,
    };
    let web_share = match channel {
        Channel::WebOnly => 1.0,
        Channel::StoreOnly => 0.0,
        Channel::Both => rng.gen_range(0.2..0.6),
    };
    let city_weights: Vec<f64> = CITIES.iter().map(|c| c.2).collect();
    let city = weighted_index(rng, &city_weights);
    let home_store = city * STORES_PER_CITY + weighted_index(rng, &[3.0, 2.0, 2.0, 1.5, 1.5]);
    let female = chance(
        rng,
        match segment {
            Segment::YoungParent => 0.8,
            Segment::BeautyFan => 0.9,
            Segment::GadgetBuyer => 0.3,
            _ => 0.55,
        },
    );
    let birth_year = match segment {
        Segment::YoungParent => rng.gen_range(1985..1998),
        Segment::GadgetBuyer => rng.gen_range(1975..2004),
        _ => rng.gen_range(1955..2005),
    };
    let opt_in = chance(rng, 0.6);

    let acquired = if chance(rng, 0.28) {
        rng.gen_range(days_from_civil(2021, 1, 1)..HISTORY_START)
    } else {
        rng.gen_range(HISTORY_START..REFERENCE_DAY)
    };
    let boost = match segment {
        Segment::YoungParent => 1.2,
        Segment::PetOwner | Segment::BargainHunter => 1.1,
        Segment::GadgetBuyer => 0.7,
        _ => 1.0,
    };
    let rate = (gamma(rng, 1.6, 1.0 / 35.0 / 1.6) * boost).clamp(1.0 / 500.0, 1.0 / 3.0);
    let dropout = beta(rng, 1.3, 14.0);
    let regularity = [1, 2, 3, 5][weighted_index(rng, &[0.3, 0.35, 0.25, 0.1])];
    let coupon_rate = if segment == Segment::BargainHunter { 0.4 } else { 0.12 };

    let web = channel != Channel::StoreOnly;
    let store = channel != Channel::WebOnly;
    let rates = &world.rates;
    let mut email_is_family = false;
    let email = if web || chance(rng, 0.4) {
        match world.family_email.clone() {
            Some(family) if chance(rng, rates.shared_email) => {
                email_is_family = true;
                Some(family)
            }
            _ => Some(new_email(rng, &mut world.emails)),
        }
    } else {
        None
    };
    if !email_is_family {
        world.family_email.clone_from(&email);
    }
    let phone = if chance(rng, 0.8) { Some(phone_of(rng, index)) } else { None };
    let card = if store && chance(rng, 0.85) {
        let old = if chance(rng, world.rates.replacement_card) {
            let from = acquired.max(HISTORY_START) + 20;
            let until = if from < REFERENCE_DAY - 20 { rng.gen_range(from..REFERENCE_DAY - 10) } else { from };
            Some((card_number(index + 500_000_000), until))
        } else {
            None
        };
        Some(Card { current: card_number(index), old })
    } else {
        None
    };

    let mut accounts = Vec::new();
    if let (true, Some(email)) = (web, email.as_deref()) {
        let n = if chance(rng, world.rates.second_account) { 2 } else { 1 };
        for k in 0..n {
            let id = format!("WU{:08}", super::sampling::permute(index * 2 + k, 100_000_000, 97_654_321, 4_242));
            let mut typo = None;
            let mut typed = email.to_string();
            if k == 0
                && !email_is_family
                && chance(rng, world.rates.mistyped_email)
                && let Some((t, kind)) = mistype(rng, email, &mut world.emails)
            {
                typed = t;
                typo = Some(kind);
            }
            let email_typed = typed_email(rng, &typed, world.rates.email_variant);
            let opened_on = if k == 0 {
                acquired
            } else {
                let start = acquired.max(HISTORY_START);
                rng.gen_range(start..(start + 180).min(REFERENCE_DAY).max(start + 1))
            };
            accounts.push(WebAccount { id, email_typed, typo, opened_on });
        }
    }

    let vip = rate >= 1.0 / 14.0;
    let tier = card.as_ref().map(|_| {
        if rate >= 1.0 / 14.0 {
            Tier::Gold
        } else if rate >= 1.0 / 28.0 {
            Tier::Silver
        } else {
            Tier::Bronze
        }
    });

    let mut affinity_weights = segment.affinity();
    for w in &mut affinity_weights {
        *w *= gamma(rng, 4.0, 0.25);
    }
    let affinity = Cumulative::new(affinity_weights);
    let consumable: Vec<f64> =
        Category::ALL.iter().map(|c| if c.is_consumable() { affinity_weights[c.index()] } else { 0.0 }).collect();
    let n_staples = 2 + weighted_index(rng, &[0.2, 0.3, 0.25, 0.15, 0.1]);
    let mut staples: Vec<Staple> = Vec::with_capacity(n_staples);
    for _ in 0..n_staples {
        let cat = Category::ALL[weighted_index(rng, &consumable)];
        let product = world.catalog.sample(rng, cat, channel == Channel::StoreOnly);
        if staples.iter().all(|s| s.product != product) {
            let cycle = (rng.gen_range(1.3..3.5) / rate).clamp(7.0, 180.0);
            staples.push(Staple { product, cycle, last: None });
        }
    }

    Person {
        id: format!("P{:07}", index + 1),
        segment,
        channel,
        web_share,
        city,
        home_store,
        female,
        birth_year,
        opt_in,
        acquired,
        rate,
        dropout,
        regularity,
        coupon_rate,
        vip,
        tier,
        email,
        email_is_family,
        phone,
        card,
        accounts,
        affinity,
        staples,
    }
}
