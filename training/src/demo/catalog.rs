//! The demo retailer's product catalog: a few thousand SKUs in eight categories, with web SKUs, 13-digit
//! EAN barcodes (about 15% imported goods whose EAN starts with `0`), web category paths, POS department
//! codes, per-category prices and a Zipf-like popularity order within each category.

use std::io::Write;

use rand::Rng;
use rand::seq::SliceRandom;

use super::defects::{DefectCounts, Rates};
use super::sampling::{Cumulative, chance, permute, pick};
use super::{DemoError, HISTORY_START, REFERENCE_DAY};

/// A canonical product category.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// Food and drinks.
    Grocery,
    /// Mother & baby goods.
    MotherBaby,
    /// Pet food and supplies.
    Pet,
    /// Cosmetics and personal beauty.
    Beauty,
    /// Household consumables.
    Household,
    /// Clothing and shoes.
    Apparel,
    /// Electronics and appliances.
    Electronics,
    /// Home goods and furniture.
    Home,
}

impl Category {
    /// All categories, in index order.
    pub const ALL: [Category; 8] = [
        Category::Grocery,
        Category::MotherBaby,
        Category::Pet,
        Category::Beauty,
        Category::Household,
        Category::Apparel,
        Category::Electronics,
        Category::Home,
    ];

    /// Position in [`Category::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// First segment of the web category path.
    pub fn web_name(self) -> &'static str {
        match self {
            Category::Grocery => "Grocery",
            Category::MotherBaby => "Mother & Baby",
            Category::Pet => "Pet",
            Category::Beauty => "Beauty",
            Category::Household => "Household",
            Category::Apparel => "Apparel",
            Category::Electronics => "Electronics",
            Category::Home => "Home",
        }
    }

    /// Consumables are repurchased on a cycle; durables are rarely bought twice.
    pub fn is_consumable(self) -> bool {
        matches!(
            self,
            Category::Grocery | Category::MotherBaby | Category::Pet | Category::Beauty | Category::Household
        )
    }

    fn sku_count(self) -> usize {
        match self {
            Category::Grocery => 800,
            Category::MotherBaby => 300,
            Category::Pet => 250,
            Category::Beauty => 400,
            Category::Household => 350,
            Category::Apparel => 400,
            Category::Electronics => 200,
            Category::Home => 300,
        }
    }

    /// List-price range in CNY.
    fn price_range(self) -> (f64, f64) {
        match self {
            Category::Grocery => (4.0, 90.0),
            Category::MotherBaby => (25.0, 350.0),
            Category::Pet => (15.0, 300.0),
            Category::Beauty => (30.0, 600.0),
            Category::Household => (6.0, 120.0),
            Category::Apparel => (49.0, 699.0),
            Category::Electronics => (99.0, 4999.0),
            Category::Home => (19.0, 1999.0),
        }
    }

    /// Subcategories with their POS department code.
    fn subcategories(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Category::Grocery => &[
                ("Rice & Noodles", "D10"),
                ("Cooking Oil", "D10"),
                ("Dairy", "D10"),
                ("Fruit & Veg", "D10"),
                ("Condiments", "D10"),
                ("Snacks", "D11"),
                ("Beverages", "D11"),
                ("Coffee & Tea", "D11"),
            ],
            Category::MotherBaby => &[
                ("Diapers", "D20"),
                ("Infant Formula", "D20"),
                ("Baby Food", "D20"),
                ("Wipes", "D20"),
                ("Baby Care", "D20"),
            ],
            Category::Pet => &[("Dog Food", "D30"), ("Cat Food", "D30"), ("Cat Litter", "D30"), ("Pet Treats", "D30")],
            Category::Beauty => &[("Skincare", "D40"), ("Makeup", "D40"), ("Hair Care", "D40"), ("Body Care", "D40")],
            Category::Household => &[
                ("Laundry", "D50"),
                ("Cleaning", "D50"),
                ("Paper", "D50"),
                ("Kitchen Supplies", "D50"),
                ("Personal Care", "D50"),
            ],
            Category::Apparel => {
                &[("Women", "D60"), ("Men", "D60"), ("Kids", "D60"), ("Shoes", "D60"), ("Accessories", "D60")]
            }
            Category::Electronics => &[
                ("Phones", "D70"),
                ("Audio", "D70"),
                ("Small Appliances", "D70"),
                ("Computer Accessories", "D70"),
                ("Smart Home", "D70"),
            ],
            Category::Home => &[
                ("Bedding", "D51"),
                ("Kitchenware", "D51"),
                ("Storage", "D51"),
                ("Decor", "D51"),
                ("Furniture", "D51"),
            ],
        }
    }
}

const BRANDS: &[&str] = &[
    "Jiahe",
    "Lanfeng",
    "Meiyue",
    "Huaxin",
    "Baicao",
    "Yunshan",
    "Qingli",
    "Dongfang",
    "Xinghe",
    "Mulan",
    "Anda",
    "Tianyi",
    "Leyou",
    "Haoyun",
    "Zhenpin",
    "Nordik",
    "Alpina",
    "Sunvale",
    "Brightway",
    "Kodo",
];
const VARIANTS: &[&str] =
    &["Classic", "Plus", "Mini", "Family Pack", "Pro", "Lite", "Original", "Deluxe", "Value Pack", "Select"];

/// One catalog item.
#[derive(Debug, Clone)]
pub struct Product {
    /// Web article number, `SKU-nnnnnn`.
    pub sku: String,
    /// 13-digit EAN; `None` for web-only items.
    pub ean: Option<String>,
    /// Canonical category.
    pub category: Category,
    /// Web subcategory (second path segment).
    pub subcategory: &'static str,
    /// POS department code.
    pub department: &'static str,
    /// Display name.
    pub name: String,
    /// List price in fen before any price change.
    pub price_cents: i64,
    /// A price change: from this day on, this price (fen).
    pub price_change: Option<(i32, i64)>,
    /// `false` when the product master lacks its web category (a defect).
    pub has_web_category: bool,
}

impl Product {
    /// List price in fen on a day.
    pub fn price_on(&self, day: i32) -> i64 {
        match self.price_change {
            Some((from, price)) if day >= from => price,
            _ => self.price_cents,
        }
    }

    /// Whether the EAN is an imported good's (leading `0`).
    pub fn is_imported(&self) -> bool {
        self.ean.as_deref().is_some_and(|e| e.starts_with('0'))
    }
}

/// The catalog with popularity tables per category.
#[derive(Debug, Clone)]
pub struct Catalog {
    /// All products; index = product id used throughout the generator.
    pub products: Vec<Product>,
    by_category: Vec<Vec<usize>>,
    popularity: Vec<Cumulative>,
    in_store: Vec<Vec<usize>>,
    in_store_popularity: Vec<Cumulative>,
}

fn ean13(body12: &str) -> String {
    let sum: u32 = body12.bytes().enumerate().map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 1 } else { 3 }).sum();
    format!("{body12}{}", (10 - sum % 10) % 10)
}

fn round_price<R: Rng>(rng: &mut R, cny: f64) -> i64 {
    let cents = (cny * 100.0).round() as i64;
    let ending = *pick(rng, &[90_i64, 0, 50, 80, 99]);
    let yuan = (cents / 100).max(1);
    if yuan >= 100 && ending == 99 { yuan * 100 } else { yuan * 100 + ending }
}

impl Catalog {
    /// Generates the catalog.
    pub fn generate<R: Rng>(rng: &mut R, rates: &Rates, counts: &mut DefectCounts) -> Self {
        let mut products = Vec::new();
        let mut by_category = vec![Vec::new(); Category::ALL.len()];
        let mut serial = 0_u64;
        for cat in Category::ALL {
            let (lo, hi) = cat.price_range();
            for _ in 0..cat.sku_count() {
                let (sub, dept) = *pick(rng, cat.subcategories());
                let u: f64 = rng.r#gen();
                let price = round_price(rng, lo * (hi / lo).powf(u));
                let sku = format!("SKU-{:06}", 100_000 + permute(serial, 900_000, 7_654_321, 31_337));
                let code = permute(serial, 1_000_000_000, 48_271_113, 5_550_123);
                let ean = if chance(rng, rates.web_only_item) {
                    counts.products_without_barcode += 1;
                    None
                } else if rng.r#gen::<f64>() < 0.15 {
                    Some(ean13(&format!("0{:02}{code:09}", rng.gen_range(10..100))))
                } else {
                    Some(ean13(&format!("69{}{code:09}", rng.gen_range(0..10))))
                };
                let price_change = if chance(rng, rates.price_change) {
                    counts.products_listed_twice += 1;
                    let day = rng.gen_range(HISTORY_START + 120..REFERENCE_DAY - 30);
                    let factor = 1.0 + rng.gen_range(-0.12..0.15);
                    Some((day, round_price(rng, price as f64 / 100.0 * factor)))
                } else {
                    None
                };
                let has_web_category = if chance(rng, rates.missing_category) {
                    counts.products_without_category += 1;
                    false
                } else {
                    true
                };
                let name = format!("{} {} {}", pick(rng, BRANDS), sub.trim_end_matches('s'), pick(rng, VARIANTS));
                by_category[cat.index()].push(products.len());
                products.push(Product {
                    sku,
                    ean,
                    category: cat,
                    subcategory: sub,
                    department: dept,
                    name,
                    price_cents: price,
                    price_change,
                    has_web_category,
                });
                serial += 1;
            }
        }
        for list in &mut by_category {
            list.shuffle(rng);
        }
        let zipf = |n: usize| Cumulative::new((0..n).map(|r| 1.0 / (r as f64 + 2.0).powf(1.05)));
        let popularity = by_category.iter().map(|l| zipf(l.len())).collect();
        let in_store: Vec<Vec<usize>> =
            by_category.iter().map(|l| l.iter().copied().filter(|&p| products[p].ean.is_some()).collect()).collect();
        let in_store_popularity = in_store.iter().map(|l| zipf(l.len())).collect();
        Self { products, by_category, popularity, in_store, in_store_popularity }
    }

    /// Draws a product of a category by popularity; `store` restricts to items with a barcode.
    pub fn sample<R: Rng>(&self, rng: &mut R, cat: Category, store: bool) -> usize {
        let i = cat.index();
        if store {
            self.in_store[i][self.in_store_popularity[i].sample(rng)]
        } else {
            self.by_category[i][self.popularity[i].sample(rng)]
        }
    }

    /// Writes `products.csv`; returns the number of data rows.
    pub fn write_csv<W: Write>(&self, out: &mut W) -> Result<u64, DemoError> {
        out.write_all(b"sku,product_code,name,ecommerce_category,pos_department,price\n")?;
        let mut rows = 0;
        for p in &self.products {
            let category = if p.has_web_category {
                format!("{} > {}", p.category.web_name(), p.subcategory)
            } else {
                String::new()
            };
            let ean = p.ean.as_deref().unwrap_or("");
            let mut prices = vec![p.price_cents];
            if let Some((_, new)) = p.price_change {
                prices.push(new);
            }
            for price in prices {
                writeln!(
                    out,
                    "{},{},{},{},{},{}",
                    p.sku,
                    ean,
                    p.name,
                    super::writers::csv_field(&category),
                    p.department,
                    super::writers::money(price)
                )?;
                rows += 1;
            }
        }
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ean_check_digit() {
        assert_eq!(ean13("400638133393"), "4006381333931");
    }
}
