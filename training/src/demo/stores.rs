//! The demo retailer's geography: twelve cities (with their Chinese and English names and relative
//! sizes) and sixty stores, five per city, some of whose till exports drop the leading zero of barcodes.

use std::io::Write;

use super::DemoError;
use super::defects::Rates;

/// A city: Chinese name, English name, relative size.
pub const CITIES: [(&str, &str, f64); 12] = [
    ("上海", "Shanghai", 14.0),
    ("北京", "Beijing", 13.0),
    ("广州", "Guangzhou", 10.0),
    ("深圳", "Shenzhen", 10.0),
    ("杭州", "Hangzhou", 8.0),
    ("成都", "Chengdu", 8.0),
    ("武汉", "Wuhan", 7.0),
    ("南京", "Nanjing", 7.0),
    ("西安", "Xi'an", 6.0),
    ("苏州", "Suzhou", 6.0),
    ("天津", "Tianjin", 6.0),
    ("重庆", "Chongqing", 5.0),
];

/// Stores per city.
pub const STORES_PER_CITY: usize = 5;

const DISTRICTS: [&str; STORES_PER_CITY] = ["中心店", "东区店", "西区店", "南区店", "北区店"];

/// A physical store.
#[derive(Debug, Clone)]
pub struct Store {
    /// `S001` .. `S060`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Index into [`CITIES`].
    pub city: usize,
    /// Whether this store's till export drops the leading zero of imported barcodes.
    pub drops_leading_zero: bool,
}

/// The 60 stores, five per city, store `city * 5 + k`.
pub fn stores(rates: &Rates) -> Vec<Store> {
    (0..CITIES.len() * STORES_PER_CITY)
        .map(|i| Store {
            id: format!("S{:03}", i + 1),
            name: format!("{}{}", CITIES[i / STORES_PER_CITY].0, DISTRICTS[i % STORES_PER_CITY]),
            city: i / STORES_PER_CITY,
            drops_leading_zero: rates.zero_dropping_store_every > 0 && i % rates.zero_dropping_store_every == 3,
        })
        .collect()
}

/// Writes `stores.csv`; returns the number of data rows.
pub fn write_stores<W: Write>(stores: &[Store], out: &mut W) -> Result<u64, DemoError> {
    out.write_all(b"store_id,name,city\n")?;
    for s in stores {
        writeln!(out, "{},{},{}", s.id, s.name, CITIES[s.city].0)?;
    }
    Ok(stores.len() as u64)
}
