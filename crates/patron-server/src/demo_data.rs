//! Deterministic, realistic fake customers for `patron serve --demo` and benchmarks.
//!
//! The same `(seed, count)` always yields the same customers, on every platform and
//! with every `rand` version: the generator carries its own small PRNG (xoshiro256++
//! seeded through SplitMix64) and its own range reduction instead of `SmallRng`,
//! whose algorithm `rand` documents as not reproducible across platforms or releases.
//!
//! Realism, in brief:
//! - names are drawn Zipf-like from frequency-ordered tables, with accented and
//!   international spellings (`García` next to `Garcia`, `Müller` next to `Muller`)
//!   so accent-insensitive search has something to show;
//! - emails are unique (case-insensitively) because the local part ends with the
//!   row index and the name stem never contains a digit; only reserved domains;
//! - phones use real US area codes, so libphonenumber accepts them, written in
//!   the varied ways people type them;
//! - cities come with their state, a plausible ZIP prefix and their area codes;
//! - about 6% of rows join a recent household: same last name and address, often
//!   the same phone (written differently), as families do.
//!
//! Only the output strings are allocated per row; every table is `&'static str`.

/// One generated customer, as raw text fields (the same shape a CSV import produces).
#[derive(Debug, Clone)]
pub struct GeneratedCustomer {
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub tax_id: Option<String>,
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub city: Option<String>,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
    pub date_of_birth: Option<String>,
    pub notes: Option<String>,
    pub marketing_consent: bool,
    pub medical_card_number: Option<String>,
    pub medical_issuing_state: Option<String>,
    pub medical_expiry: Option<String>,
    pub id_number: Option<String>,
    pub id_issuing_state: Option<String>,
    pub id_expiry: Option<String>,
}

/// Deterministic: the same (seed, count) always yields the same customers.
pub fn generate(seed: u64, count: usize) -> impl Iterator<Item = GeneratedCustomer> {
    Generator::new(seed, count)
}

// ---------------------------------------------------------------------------------
// Tables. Names are ordered from most to least common; the Zipf-like weights follow
// the order, so position in the list is what makes a name common or rare.
// ---------------------------------------------------------------------------------

#[rustfmt::skip]
const FIRST_NAMES: &[&str] = &[
    "James", "Mary", "Maria", "Michael", "John", "Robert", "Jennifer", "David", "Linda",
    "William", "Patricia", "Elizabeth", "Richard", "Joseph", "Susan", "Thomas", "Jessica",
    "Christopher", "Sarah", "Daniel", "Karen", "Charles", "Lisa", "Matthew", "Nancy", "Anthony",
    "Ashley", "Mark", "Emily", "Jose", "Sandra", "Donald", "Michelle", "Steven", "Kimberly",
    "José", "Andrew", "Amanda", "Paul", "Melissa", "Joshua", "María", "Stephanie", "Kevin",
    "Rebecca", "Brian", "Laura", "George", "Emma", "Timothy", "Olivia", "Jason", "Sophia",
    "Ryan", "Ana", "Jacob", "Anna", "Juan", "Isabella", "Luis", "Carmen", "Carlos", "Rosa",
    "Eric", "Angela", "Jonathan", "Nicole", "Stephen", "Helen", "Larry", "Samantha", "Justin",
    "Katherine", "Scott", "Christine", "Brandon", "Deborah", "Benjamin", "Rachel", "Samuel",
    "Carolyn", "Gregory", "Janet", "Alexander", "Catherine", "Frank", "Heather", "Patrick",
    "Diane", "Raymond", "Julie", "Jack", "Joyce", "Dennis", "Victoria", "Jerry", "Kelly",
    "Tyler", "Christina", "Aaron", "Lauren", "Adam", "Evelyn", "Henry", "Judith", "Nathan",
    "Megan", "Douglas", "Andrea", "Zachary", "Cheryl", "Peter", "Hannah", "Kyle", "Jacqueline",
    "Ethan", "Martha", "Walter", "Gloria", "Noah", "Teresa", "Jeremy", "Ann", "Christian",
    "Sara", "Keith", "Madison", "Roger", "Frances", "Terry", "Kathryn", "Gerald", "Janice",
    "Harold", "Jean", "Sean", "Abigail", "Austin", "Alice", "Carl", "Julia", "Arthur", "Judy",
    "Lawrence", "Sophie", "Dylan", "Grace", "Jesse", "Denise", "Jordan", "Amber", "Bryan",
    "Doris", "Billy", "Marilyn", "Joe", "Danielle", "Bruce", "Beverly", "Gabriel", "Isabel",
    "Logan", "Theresa", "Albert", "Diana", "Willie", "Natalie", "Alan", "Brittany", "Wayne",
    "Charlotte", "Elijah", "Marie", "Randy", "Kayla", "Roy", "Alexis", "Vincent", "Lori",
    "Ralph", "Alma", "Eugene", "Guadalupe", "Russell", "Mei", "Bobby", "Priya", "Mason",
    "Aisha", "Philip", "Fatima", "Louis", "Miguel", "Wei", "Ahmed", "Yuki", "Hiroshi", "Ming",
    "Raj", "Mohammed", "Omar", "Ali", "Dmitri", "Ivan", "Nikolai", "Sven", "Lars", "Ingrid",
    "Astrid", "Hans", "Klaus", "Jürgen", "Zoë", "Chloé", "Renée", "Søren", "Björn", "Åsa",
    "Łukasz", "Małgorzata", "Agnieszka", "Wojciech", "Jean-Luc", "François", "Jérôme",
    "Hélène", "Céline", "Mónica", "Inés", "Raúl", "Sebastián", "Andrés", "Ramón", "Joaquín",
    "Martín", "Tomás", "Nicolás", "Noémie", "Ángel", "Jesús", "Lucía", "Dolores", "Begoña",
    "Gökhan", "Dragan", "Đorđe", "Milica", "Jiří", "Tomáš", "Zoltán", "Ágnes", "Siobhán",
    "Seán", "Niamh", "Aoife", "Oisín", "Saoirse", "Eoin", "Anh", "Minh", "Björk", "Þóra",
    "Ólafur", "Sigríður", "Mary Ann", "Anne-Marie", "D'Andre",
];

#[rustfmt::skip]
const LAST_NAMES: &[&str] = &[
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "García", "Harris",
    "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Rodríguez", "Allen",
    "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams",
    "Martínez", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Hernández", "Mitchell",
    "Carter", "Roberts", "Gomez", "Phillips", "Evans", "Turner", "Diaz", "Parker", "López",
    "Cruz", "Edwards", "Collins", "Reyes", "Stewart", "Morris", "Morales", "González", "Murphy",
    "Cook", "Rogers", "Gutierrez", "Ortiz", "Morgan", "Cooper", "Peterson", "Pérez", "Bailey",
    "Reed", "Kelly", "Howard", "Ramos", "Kim", "Cox", "Ward", "Richardson", "Watson", "Brooks",
    "Chavez", "Wood", "James", "Bennett", "Gray", "Mendoza", "Ruiz", "Hughes", "Price",
    "Alvarez", "Castillo", "Sanders", "Patel", "Myers", "Long", "Ross", "Foster", "Jimenez",
    "Powell", "Jenkins", "Perry", "Russell", "Sánchez", "Sullivan", "Bell", "Coleman", "Butler",
    "Henderson", "Barnes", "Gonzales", "Fisher", "Vasquez", "Simmons", "Romero", "Jordan",
    "Patterson", "Müller", "Alexander", "Hamilton", "Graham", "Reynolds", "Griffin", "Wallace",
    "Moreno", "West", "Cole", "Hayes", "Bryant", "Herrera", "Gibson", "Ellis", "Tran", "Medina",
    "Aguilar", "Stevens", "Murray", "Ford", "Castro", "Marshall", "Owens", "Harrison",
    "Fernandez", "McDonald", "Woods", "Washington", "Kennedy", "Wells", "Vargas", "Henry",
    "Chen", "Freeman", "Webb", "Tucker", "Guzman", "Burns", "Crawford", "Olson", "Simpson",
    "Porter", "Hunter", "Gordon", "Mendez", "Silva", "Shaw", "Snyder", "Mason", "Dixon",
    "Muñoz", "Hunt", "Hicks", "Holmes", "Palmer", "Wagner", "Black", "Robertson", "Boyd",
    "Rose", "Stone", "Salazar", "Fox", "Warren", "Mills", "Meyer", "Rice", "Schmidt", "Garza",
    "Daniels", "Ferguson", "Nichols", "Stephens", "Soto", "Weaver", "Ryan", "Gardner", "Payne",
    "Grant", "Dunn", "Kelley", "Spencer", "Hawkins", "Arnold", "Pierce", "Vazquez", "Hansen",
    "Peters", "Santos", "Hart", "Bradley", "Knight", "Elliott", "Cunningham", "Duncan",
    "Armstrong", "Hudson", "Carroll", "Lane", "Riley", "Andrews", "Alvarado", "Ray", "Delgado",
    "Berry", "Perkins", "Hoffman", "Johnston", "Matthews", "Peña", "Richards", "Contreras",
    "Willis", "Carpenter", "Lawrence", "Sandoval", "O'Brien", "Wang", "Li", "Zhang", "Liu",
    "Singh", "Kumar", "Shah", "Khan", "Ali", "Cohen", "Levy", "Muller", "Schneider", "Fischer",
    "Weber", "Schäfer", "Köhler", "Schröder", "Meier", "O'Connor", "Wójcik", "Kowalski",
    "Nowak", "Lewandowski", "Wiśniewski", "Dąbrowski", "Novák", "Dvořák", "Horváth", "Nagy",
    "Kovačević", "Đorđević", "Petrović", "Jovanović", "Popescu", "Ivanov", "Petrov", "Sokolov",
    "O'Neill", "McCarthy", "Fitzgerald", "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi",
    "Romano", "Colombo", "Ricci", "De Luca", "Nuñez", "Núñez", "Ibáñez", "Ramírez", "Gómez",
    "Díaz", "Álvarez", "Jiménez", "Fernández", "Gutiérrez", "Báez", "Suárez", "Cortés",
    "Dubois", "Lefèvre", "Lefebvre", "Girard", "Bonnet", "Mercier", "Fournier", "Gauthier",
    "Bérubé", "Côté", "Gagné", "Bélanger", "Lévesque", "Pelletier", "Bouchard", "Tremblay",
    "Nørgaard", "Søndergaard", "Jørgensen", "Andersson", "Johansson", "Björk", "Lindström",
    "Åberg", "Öberg", "Virtanen", "Mäkinen", "Häkkinen", "Yılmaz", "Öztürk", "Şahin", "Çelik",
    "Kaya", "Demir", "Nakamura", "Tanaka", "Suzuki", "Sato", "Watanabe", "Park", "Choi", "Pham",
    "Hoang", "Vu", "Dang", "Huynh", "Okafor", "Adeyemi", "Mensah", "Abdullah", "Haddad",
    "Nasser", "Kaur", "Gupta", "Sharma", "Reddy", "Iyer", "Costa", "Oliveira", "Souza",
    "Conceição", "Gonçalves", "Magalhães", "Azevedo", "van der Berg", "Van Dijk", "de Vries",
    "Jansen", "Papadopoulos", "Georgiou", "Schwarz", "Zimmermann", "Krüger", "Weiß",
    "Smith-Jones", "St. Clair",
];

struct City {
    name: &'static str,
    state: &'static str,
    /// First three digits of the ZIP code.
    zip3: &'static str,
    area_codes: &'static [u16],
    /// Relative frequency (roughly metro population in hundreds of thousands).
    weight: u32,
}

const fn city(
    name: &'static str,
    state: &'static str,
    zip3: &'static str,
    area_codes: &'static [u16],
    weight: u32,
) -> City {
    City {
        name,
        state,
        zip3,
        area_codes,
        weight,
    }
}

const CITIES: &[City] = &[
    city("New York", "NY", "100", &[212, 646, 917], 60),
    city("Brooklyn", "NY", "112", &[718, 347, 929], 40),
    city("Los Angeles", "CA", "900", &[213, 323, 310], 55),
    city("Chicago", "IL", "606", &[312, 773, 872], 40),
    city("Houston", "TX", "770", &[713, 832, 281], 35),
    city("Phoenix", "AZ", "850", &[602, 480, 623], 25),
    city("Philadelphia", "PA", "191", &[215, 267], 22),
    city("San Antonio", "TX", "782", &[210], 20),
    city("San Diego", "CA", "921", &[619, 858], 20),
    city("Dallas", "TX", "752", &[214, 469, 972], 22),
    city("Austin", "TX", "787", &[512, 737], 16),
    city("Jacksonville", "FL", "322", &[904], 12),
    city("San Jose", "CA", "951", &[408, 669], 12),
    city("Fort Worth", "TX", "761", &[817, 682], 11),
    city("Columbus", "OH", "432", &[614], 11),
    city("Charlotte", "NC", "282", &[704, 980], 11),
    city("Indianapolis", "IN", "462", &[317], 10),
    city("San Francisco", "CA", "941", &[415, 628], 12),
    city("Seattle", "WA", "981", &[206], 12),
    city("Denver", "CO", "802", &[303, 720], 12),
    city("Washington", "DC", "200", &[202], 10),
    city("Boston", "MA", "021", &[617, 857], 11),
    city("Nashville", "TN", "372", &[615, 629], 9),
    city("Detroit", "MI", "482", &[313], 9),
    city("Portland", "OR", "972", &[503, 971], 9),
    city("Las Vegas", "NV", "891", &[702, 725], 10),
    city("Louisville", "KY", "402", &[502], 6),
    city("Baltimore", "MD", "212", &[410, 443], 8),
    city("Milwaukee", "WI", "532", &[414], 6),
    city("Albuquerque", "NM", "871", &[505], 6),
    city("Tucson", "AZ", "857", &[520], 6),
    city("Sacramento", "CA", "958", &[916, 279], 7),
    city("Kansas City", "MO", "641", &[816], 6),
    city("Atlanta", "GA", "303", &[404, 470, 678], 12),
    city("Miami", "FL", "331", &[305, 786], 14),
    city("Minneapolis", "MN", "554", &[612], 7),
    city("New Orleans", "LA", "701", &[504], 5),
    city("Newark", "NJ", "071", &[973, 862], 5),
    city("Jersey City", "NJ", "073", &[201, 551], 5),
    city("Salt Lake City", "UT", "841", &[801, 385], 5),
    city("Raleigh", "NC", "276", &[919, 984], 6),
    city("Tampa", "FL", "336", &[813, 656], 7),
    city("Orlando", "FL", "328", &[407, 321], 7),
    city("Pittsburgh", "PA", "152", &[412], 5),
    city("St. Louis", "MO", "631", &[314], 5),
    city("Honolulu", "HI", "968", &[808], 4),
    city("Anchorage", "AK", "995", &[907], 2),
    city("Fort Lauderdale", "FL", "333", &[954], 5),
    city("Cleveland", "OH", "441", &[216], 5),
    city("Oakland", "CA", "946", &[510, 341], 5),
];

#[rustfmt::skip]
const STREETS: &[&str] = &[
    "Main", "Oak", "Pine", "Maple", "Cedar", "Elm", "Washington", "Lake", "Hill", "Park",
    "Walnut", "Sunset", "Lincoln", "Jackson", "Church", "River", "Willow", "Highland",
    "Jefferson", "Madison", "Franklin", "Center", "Chestnut", "Spring", "Ridge", "Meadow",
    "Forest", "Lakeview", "Cherry", "Adams", "Hickory", "Dogwood", "Birch", "Magnolia",
    "Sycamore", "Valley", "Market", "Mill", "Union", "Liberty", "Grove", "Spruce", "Poplar",
    "Laurel", "Martin Luther King Jr", "Kennedy", "Wilson", "College", "Prospect", "Orchard",
    "Harbor", "Bay", "Ocean", "Mesa", "Alameda", "Vista", "Santa Rosa", "Del Mar", "Aspen",
    "Juniper", "1st", "2nd", "3rd", "4th", "5th", "6th", "7th", "8th", "9th", "10th", "12th",
    "14th", "23rd", "42nd",
];

/// Street suffixes, usually written out, sometimes abbreviated as people type them.
#[rustfmt::skip]
const STREET_SUFFIXES: &[&str] = &[
    "Street", "Avenue", "Road", "Drive", "Lane", "Boulevard", "Court", "Way", "Place",
    "Terrace", "Circle", "Parkway", "St", "Ave", "Rd", "Dr", "Blvd", "Ln",
];

/// Streets that take no suffix.
const BARE_STREETS: &[&str] = &["Broadway", "El Camino Real", "The Embarcadero", "Park Row"];

const DIRECTIONS: &[&str] = &[
    "N", "S", "E", "W", "North", "South", "East", "West", "NE", "SW",
];

const UNIT_KINDS: &[&str] = &["Apt", "Apt", "Apt", "Apt.", "Unit", "Suite", "#", "Fl"];

const EMAIL_DOMAINS: &[&str] = &["example.com", "example.net", "example.org", "mail.example"];

const NOTES: &[&str] = &[
    "Prefers contact by email.",
    "Prefers text messages over calls.",
    "Do not call before 10am.",
    "VIP customer since 2019.",
    "Wholesale account, net 30 terms.",
    "Speaks Spanish; Spanish receipts if possible.",
    "Asked to be removed from SMS promotions.",
    "Returned a damaged item on 2025-11-03, refunded in full.",
    "Moved from Denver; update ID on next visit.",
    "Has a tax-exempt certificate on file.",
    "Referred by a friend; welcome discount applied.",
    "Hard of hearing, please speak clearly.",
    "Loyalty points merged from a duplicate account.",
    "Needs large-print receipts.",
    "Caregiver picks up orders on her behalf.",
    "Paid with a check that bounced in 2024; cash or card only.",
    "Birthday coupon sent.",
    "Complained about wait times, offered 10% off next purchase.",
    "Employee of the Downtown store.",
    "Asked about the referral program.",
    "Allergic to latex.",
    "Address verified by phone.",
    "Name on ID differs from account (married name).",
    "Prefers pickup at the Eastside store.",
    "Medical card renewal pending.",
    "Called twice about order status.\nFollow up next week.",
];

/// Per-state driver's licence number shapes: `#` digit, `@` letter, `*` either,
/// anything else literal.
const LICENCE_FORMATS: &[(&str, &str)] = &[
    ("CA", "@#######"),
    ("NY", "### ### ###"),
    ("TX", "########"),
    ("FL", "@###-###-##-###-#"),
    ("IL", "@###-####-####"),
    ("AZ", "@########"),
    ("PA", "## ### ###"),
    ("OH", "@@######"),
    ("NC", "############"),
    ("WA", "WDL*********"),
    ("CO", "##-###-####"),
    ("DC", "#######"),
    ("MA", "S########"),
    ("TN", "#########"),
    ("MI", "@ ### ### ### ###"),
    ("OR", "#######"),
    ("NV", "##########"),
    ("KY", "@##-###-###"),
    ("MD", "@-###-###-###-###"),
    ("WI", "@###-####-####-##"),
    ("NM", "#########"),
    ("MO", "@#########"),
    ("GA", "#########"),
    ("MN", "@############"),
    ("LA", "#########"),
    ("NJ", "@#### ##### #####"),
    ("UT", "#########"),
    ("IN", "####-##-####"),
    ("HI", "H########"),
    ("AK", "#######"),
];

const MEDICAL_FORMATS: &[&str] = &["MC-########", "P####-####-##", "@@########", "MMJ#########"];

const LETTERS: &[u8; 26] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const ALNUM: &[u8; 36] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// Birth years giving an age of 18..=89 on every day of 2026.
const BIRTH_YEAR_OLDEST: u32 = 1937;
const BIRTH_YEAR_YOUNGEST: u32 = 2007;

/// Households kept for later rows to join.
const RECENT_HOUSEHOLDS: usize = 32;

// ---------------------------------------------------------------------------------
// The random source: xoshiro256++, seeded by SplitMix64. Fixed here so that output
// never changes with the platform or a `rand` upgrade.
// ---------------------------------------------------------------------------------

struct Rng {
    s: [u64; 4],
}

impl Rng {
    fn new(seed: u64) -> Self {
        let mut z = seed;
        let mut next = || {
            z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut x = z;
            x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            x ^ (x >> 31)
        };
        Self {
            s: [next(), next(), next(), next()],
        }
    }

    fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in `0..n` (multiply-shift; the bias is far below anything visible).
    fn below(&mut self, n: u32) -> u32 {
        (((self.next_u64() >> 32) * u64::from(n)) >> 32) as u32
    }

    /// Uniform in `lo..=hi`.
    fn between(&mut self, lo: u32, hi: u32) -> u32 {
        lo + self.below(hi - lo + 1)
    }

    fn index(&mut self, len: usize) -> usize {
        self.below(len as u32) as usize
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.index(items.len())]
    }

    /// True with probability `per_mille / 1000`.
    fn chance(&mut self, per_mille: u32) -> bool {
        self.below(1000) < per_mille
    }
}

/// Cumulative weights for `len` items weighted `1 / (rank + offset)`.
fn zipf_cdf(len: usize, offset: u32) -> Vec<u32> {
    let mut total = 0u32;
    (0..len as u32)
        .map(|rank| {
            total += 1_000_000 / (rank + offset);
            total
        })
        .collect()
}

fn sample_cdf(rng: &mut Rng, cdf: &[u32]) -> usize {
    let total = cdf.last().copied().unwrap_or(0);
    let x = rng.below(total);
    cdf.partition_point(|&c| c <= x)
}

// ---------------------------------------------------------------------------------
// Compact per-row choices (plain `Copy` data, so households can be remembered
// without allocating) and their rendering into text.
// ---------------------------------------------------------------------------------

#[derive(Clone, Copy)]
struct PhoneNumber {
    area: u16,
    exchange: u16,
    line: u16,
}

#[derive(Clone, Copy)]
struct Unit {
    kind: u8,
    number: u16,
    letter: Option<u8>,
}

#[derive(Clone, Copy)]
enum Street {
    Named {
        direction: Option<u8>,
        name: u8,
        suffix: u8,
    },
    Bare(u8),
}

#[derive(Clone, Copy)]
struct Address {
    city: u8,
    /// `None`: only city and state are known (a partial address).
    street: Option<(u16, Street, Option<Unit>, u8)>,
}

#[derive(Clone, Copy)]
struct Household {
    last_name: u16,
    phone: Option<PhoneNumber>,
    address: Option<Address>,
}

struct Generator {
    rng: Rng,
    index: usize,
    count: usize,
    first_cdf: Vec<u32>,
    last_cdf: Vec<u32>,
    city_cdf: Vec<u32>,
    households: [Option<Household>; RECENT_HOUSEHOLDS],
}

impl Generator {
    fn new(seed: u64, count: usize) -> Self {
        let mut total = 0;
        let city_cdf = CITIES
            .iter()
            .map(|c| {
                total += c.weight;
                total
            })
            .collect();
        Self {
            rng: Rng::new(seed),
            index: 0,
            count,
            first_cdf: zipf_cdf(FIRST_NAMES.len(), 6),
            last_cdf: zipf_cdf(LAST_NAMES.len(), 8),
            city_cdf,
            households: [None; RECENT_HOUSEHOLDS],
        }
    }

    fn customer(&mut self) -> GeneratedCustomer {
        let index = self.index;
        let rng = &mut self.rng;

        // About 6% of customers join a recent household; the rest start their own.
        let joined = if rng.chance(60) {
            self.households[rng.index(RECENT_HOUSEHOLDS)]
        } else {
            None
        };
        let household = match joined {
            Some(h) => Household {
                phone: match h.phone {
                    Some(p) if rng.chance(600) => Some(p),
                    _ => new_phone(rng, h.address.map(|a| a.city)),
                },
                ..h
            },
            None => {
                let last_name = sample_cdf(rng, &self.last_cdf) as u16;
                let address = if rng.chance(740) {
                    Some(new_address(rng, &self.city_cdf))
                } else {
                    None
                };
                let phone = new_phone(rng, address.map(|a| a.city));
                let h = Household {
                    last_name,
                    phone,
                    address,
                };
                self.households[index % RECENT_HOUSEHOLDS] = Some(h);
                h
            }
        };

        let first = FIRST_NAMES[sample_cdf(rng, &self.first_cdf)];
        let last = LAST_NAMES[usize::from(household.last_name)];
        let email = rng.chance(850).then(|| email(rng, first, last, index));
        let phone = household.phone.map(|p| format_phone(rng, p));
        let tax_id = rng.chance(50).then(|| {
            let mut s = String::with_capacity(10);
            push_padded(&mut s, rng.between(10, 99), 2);
            s.push('-');
            push_padded(&mut s, rng.below(10_000_000), 7);
            s
        });

        let city = household.address.map(|a| &CITIES[usize::from(a.city)]);
        let (line1, line2, postal_code) = match household.address.and_then(|a| a.street) {
            Some((number, street, unit, zip_tail)) => {
                let zip = city.map(|c| {
                    let mut s = String::with_capacity(5);
                    s.push_str(c.zip3);
                    push_padded(&mut s, u32::from(zip_tail), 2);
                    s
                });
                (Some(street_line(number, street)), unit.map(unit_line), zip)
            }
            None => (None, None, None),
        };

        let date_of_birth = rng.chance(750).then(|| {
            // Mostly working-age adults, with a tail of seniors.
            let year = if rng.chance(850) {
                rng.between(1961, BIRTH_YEAR_YOUNGEST)
            } else {
                rng.between(BIRTH_YEAR_OLDEST, 1960)
            };
            random_date(rng, year)
        });
        let notes = rng.chance(30).then(|| rng.pick(NOTES).to_owned());
        let marketing_consent = rng.chance(600);

        let home_state = city.map(|c| c.state);
        let (medical_card_number, medical_issuing_state, medical_expiry) = if rng.chance(80) {
            let state = home_state.unwrap_or_else(|| random_state(rng, &self.city_cdf));
            let format = rng_pick_str(rng, MEDICAL_FORMATS);
            let number = fill_pattern(rng, format);
            let year = rng.between(2026, 2029);
            (
                Some(number),
                Some(state.to_owned()),
                Some(random_date(rng, year)),
            )
        } else {
            (None, None, None)
        };
        let (id_number, id_issuing_state, id_expiry) = if rng.chance(300) {
            let state = match home_state {
                Some(s) if rng.chance(900) => s,
                _ => random_state(rng, &self.city_cdf),
            };
            let format = LICENCE_FORMATS
                .iter()
                .find(|(s, _)| *s == state)
                .map_or("@#######", |(_, f)| f);
            let number = fill_pattern(rng, format);
            let year = rng.between(2026, 2033);
            (
                Some(number),
                Some(state.to_owned()),
                Some(random_date(rng, year)),
            )
        } else {
            (None, None, None)
        };

        GeneratedCustomer {
            first_name: first.to_owned(),
            last_name: last.to_owned(),
            email,
            phone,
            tax_id,
            address_line1: line1,
            address_line2: line2,
            city: city.map(|c| c.name.to_owned()),
            region: city.map(|c| c.state.to_owned()),
            postal_code,
            country: city.map(|_| "US".to_owned()),
            date_of_birth,
            notes,
            marketing_consent,
            medical_card_number,
            medical_issuing_state,
            medical_expiry,
            id_number,
            id_issuing_state,
            id_expiry,
        }
    }
}

impl Iterator for Generator {
    type Item = GeneratedCustomer;

    fn next(&mut self) -> Option<GeneratedCustomer> {
        if self.index >= self.count {
            return None;
        }
        let customer = self.customer();
        self.index += 1;
        Some(customer)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.count - self.index;
        (left, Some(left))
    }
}

impl ExactSizeIterator for Generator {}

fn rng_pick_str(rng: &mut Rng, items: &[&'static str]) -> &'static str {
    items[rng.index(items.len())]
}

fn random_state(rng: &mut Rng, city_cdf: &[u32]) -> &'static str {
    CITIES[sample_cdf(rng, city_cdf)].state
}

/// A valid US number: 90% of the time; local to `city` (if any) 75% of the time.
fn new_phone(rng: &mut Rng, city: Option<u8>) -> Option<PhoneNumber> {
    if !rng.chance(900) {
        return None;
    }
    let home = match city {
        Some(c) if rng.chance(750) => usize::from(c),
        _ => rng.index(CITIES.len()),
    };
    let area = rng.pick(CITIES[home].area_codes);
    let exchange = loop {
        let e = rng.between(200, 999);
        // N11 codes are service numbers; 555 is reserved.
        if e % 100 != 11 && e != 555 {
            break e as u16;
        }
    };
    Some(PhoneNumber {
        area,
        exchange,
        line: rng.below(10_000) as u16,
    })
}

fn format_phone(rng: &mut Rng, p: PhoneNumber) -> String {
    let (a, e, l) = (u32::from(p.area), u32::from(p.exchange), u32::from(p.line));
    let mut s = String::with_capacity(16);
    let sep = |s: &mut String, first: &str, mid: &str, prefix: &str| {
        s.push_str(prefix);
        s.push_str(first);
        push_padded(s, a, 3);
        s.push_str(mid);
        push_padded(s, e, 3);
        s.push_str(if mid == ") " { "-" } else { mid });
        push_padded(s, l, 4);
    };
    match rng.below(100) {
        0..=29 => sep(&mut s, "(", ") ", ""),
        30..=54 => sep(&mut s, "", "-", ""),
        55..=69 => sep(&mut s, "", "", ""),
        70..=79 => sep(&mut s, "", " ", "+1 "),
        80..=87 => sep(&mut s, "", ".", ""),
        88..=93 => sep(&mut s, "", "-", "+1-"),
        94..=96 => sep(&mut s, "", " ", "1 "),
        _ => sep(&mut s, "", "", "+1"),
    }
    s
}

fn new_address(rng: &mut Rng, city_cdf: &[u32]) -> Address {
    let city = sample_cdf(rng, city_cdf) as u8;
    // A few customers give only their city and state.
    if rng.chance(50) {
        return Address { city, street: None };
    }
    let number = if rng.chance(700) {
        rng.between(100, 9999)
    } else if rng.chance(800) {
        rng.between(1, 99)
    } else {
        rng.between(10_000, 39_999)
    };
    let street = if rng.chance(30) {
        Street::Bare(rng.index(BARE_STREETS.len()) as u8)
    } else {
        Street::Named {
            direction: rng.chance(120).then(|| rng.index(DIRECTIONS.len()) as u8),
            name: rng.index(STREETS.len()) as u8,
            suffix: rng.index(STREET_SUFFIXES.len()) as u8,
        }
    };
    let unit = rng.chance(200).then(|| Unit {
        kind: rng.index(UNIT_KINDS.len()) as u8,
        number: if rng.chance(600) {
            rng.between(1, 30) as u16
        } else {
            rng.between(100, 2499) as u16
        },
        letter: rng.chance(250).then(|| rng.below(8) as u8),
    });
    let zip_tail = rng.between(1, 99) as u8;
    Address {
        city,
        street: Some((number as u16, street, unit, zip_tail)),
    }
}

fn street_line(number: u16, street: Street) -> String {
    let mut s = String::with_capacity(32);
    push_padded(&mut s, u32::from(number), 1);
    s.push(' ');
    match street {
        Street::Named {
            direction,
            name,
            suffix,
        } => {
            if let Some(d) = direction {
                s.push_str(DIRECTIONS[usize::from(d)]);
                s.push(' ');
            }
            s.push_str(STREETS[usize::from(name)]);
            s.push(' ');
            s.push_str(STREET_SUFFIXES[usize::from(suffix)]);
        }
        Street::Bare(name) => s.push_str(BARE_STREETS[usize::from(name)]),
    }
    s
}

fn unit_line(unit: Unit) -> String {
    let mut s = String::with_capacity(12);
    let kind = UNIT_KINDS[usize::from(unit.kind)];
    s.push_str(kind);
    if kind != "#" {
        s.push(' ');
    }
    push_padded(&mut s, u32::from(unit.number), 1);
    if let Some(l) = unit.letter {
        s.push(char::from(b'A' + l));
    }
    s
}

/// `first.last.123@example.net` and the other shapes people choose. The local part
/// always ends in the row index and the name stem never contains a digit, so two
/// rows can never produce the same address, whatever the case.
fn email(rng: &mut Rng, first: &str, last: &str, index: usize) -> String {
    let mut s = String::with_capacity(48);
    match rng.below(100) {
        0..=34 => {
            fold_ascii(&mut s, first);
            s.push('.');
            fold_ascii(&mut s, last);
            s.push('.');
        }
        35..=54 => {
            fold_ascii(&mut s, first);
            fold_ascii(&mut s, last);
        }
        55..=69 => {
            let initial = first
                .char_indices()
                .nth(1)
                .map_or(first, |(i, _)| &first[..i]);
            fold_ascii(&mut s, initial);
            fold_ascii(&mut s, last);
        }
        70..=79 => {
            fold_ascii(&mut s, first);
            s.push('_');
            fold_ascii(&mut s, last);
        }
        80..=89 => {
            fold_ascii(&mut s, last);
            s.push('.');
            fold_ascii(&mut s, first);
        }
        _ => fold_ascii(&mut s, first),
    }
    if s.is_empty() || s.ends_with('-') {
        s.push('x');
    }
    push_padded(&mut s, index as u64, 1);
    // Some people type their address capitalised; it must still be the same address.
    if rng.chance(30) {
        capitalise_words(&mut s);
    }
    s.push('@');
    s.push_str(rng_pick_str(rng, EMAIL_DOMAINS));
    s
}

/// Appends `name` lowercased and folded to ASCII letters and hyphens (`Đorđević` →
/// `dordevic`); spaces, apostrophes and dots are dropped.
fn fold_ascii(out: &mut String, name: &str) {
    for c in name.chars().flat_map(char::to_lowercase) {
        let folded: &str = match c {
            'a'..='z' => {
                out.push(c);
                continue;
            }
            '-' => "-",
            'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' | 'ā' | 'ą' => "a",
            'é' | 'è' | 'ê' | 'ë' | 'ē' | 'ę' | 'ě' => "e",
            'í' | 'ì' | 'î' | 'ï' | 'ı' => "i",
            'ó' | 'ò' | 'ô' | 'ö' | 'õ' | 'ø' | 'ő' => "o",
            'ú' | 'ù' | 'û' | 'ü' | 'ů' | 'ű' => "u",
            'ý' | 'ÿ' => "y",
            'ñ' | 'ń' => "n",
            'ç' | 'ć' | 'č' => "c",
            'š' | 'ś' | 'ş' => "s",
            'ž' | 'ź' | 'ż' => "z",
            'ř' => "r",
            'ł' => "l",
            'đ' | 'ð' | 'ď' => "d",
            'ğ' => "g",
            'ß' => "ss",
            'æ' => "ae",
            'œ' => "oe",
            'þ' => "th",
            _ => "",
        };
        out.push_str(folded);
    }
}

/// `anna.mueller.48213` → `Anna.Mueller.48213`.
fn capitalise_words(s: &mut str) {
    let mut upper_next = true;
    for i in 0..s.len() {
        let b = s.as_bytes()[i];
        if let Some(c) = s.get_mut(i..=i).filter(|_| upper_next) {
            c.make_ascii_uppercase();
        }
        upper_next = !b.is_ascii_alphabetic();
    }
}

/// `#` digit, `@` letter, `*` letter or digit; everything else literally.
fn fill_pattern(rng: &mut Rng, pattern: &str) -> String {
    let mut s = String::with_capacity(pattern.len());
    for c in pattern.chars() {
        match c {
            '#' => s.push(char::from(b'0' + rng.below(10) as u8)),
            '@' => s.push(char::from(LETTERS[rng.index(LETTERS.len())])),
            '*' => s.push(char::from(ALNUM[rng.index(ALNUM.len())])),
            _ => s.push(c),
        }
    }
    s
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if matches!((year % 4, year % 100, year % 400), (0, 1.., _) | (_, _, 0)) => 29,
        2 => 28,
        _ => 31,
    }
}

/// A uniformly chosen valid day of `year`, as `YYYY-MM-DD`.
fn random_date(rng: &mut Rng, year: u32) -> String {
    let month = rng.between(1, 12);
    let day = rng.between(1, days_in_month(year, month));
    let mut s = String::with_capacity(10);
    push_padded(&mut s, year, 4);
    s.push('-');
    push_padded(&mut s, month, 2);
    s.push('-');
    push_padded(&mut s, day, 2);
    s
}

/// Appends `n` in decimal, zero-padded to at least `width` digits.
fn push_padded(out: &mut String, n: impl Into<u64>, width: usize) {
    let mut n: u64 = n.into();
    let mut buf = [b'0'; 20];
    let mut start = buf.len();
    loop {
        start -= 1;
        buf[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    start = start.min(buf.len().saturating_sub(width));
    for &b in &buf[start..] {
        out.push(char::from(b));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use patron_domain::{Email, Phone, PhoneRegion};
    use std::collections::{HashMap, HashSet};

    fn is_accented(s: &str) -> bool {
        !s.is_ascii()
    }

    #[test]
    fn same_seed_same_customers_different_seed_different_customers() {
        let a: Vec<String> = generate(42, 2_000).map(|c| format!("{c:?}")).collect();
        let b: Vec<String> = generate(42, 2_000).map(|c| format!("{c:?}")).collect();
        let c: Vec<String> = generate(43, 2_000).map(|c| format!("{c:?}")).collect();
        assert_eq!(a.len(), 2_000);
        assert_eq!(a, b);
        assert_ne!(a, c);
        // Not merely one differing row: the sequences are unrelated.
        let same = a.iter().zip(&c).filter(|(x, y)| x == y).count();
        assert!(same < 10, "{same} identical rows across seeds");
        // A prefix of a longer run is the shorter run.
        let longer: Vec<String> = generate(42, 3_000)
            .take(2_000)
            .map(|c| format!("{c:?}"))
            .collect();
        assert_eq!(a, longer);
    }

    #[test]
    fn yields_exactly_count_rows() {
        assert_eq!(generate(1, 0).count(), 0);
        assert_eq!(generate(1, 7).count(), 7);
        assert_eq!(generate(1, 10_000).size_hint(), (10_000, Some(10_000)));
    }

    #[test]
    fn emails_are_unique_case_insensitively_and_valid() {
        let mut seen = HashSet::new();
        let mut with_email = 0;
        for (i, c) in generate(7, 200_000).enumerate() {
            let Some(email) = c.email else { continue };
            with_email += 1;
            assert!(seen.insert(email.to_lowercase()), "duplicate {email}");
            if i < 20_000 {
                let parsed = Email::parse(&email);
                assert!(parsed.is_ok(), "{email}: {parsed:?}");
                let domain = email.rsplit_once('@').unwrap().1;
                assert!(EMAIL_DOMAINS.contains(&domain), "{email}");
                assert!(email.is_ascii(), "{email}");
            }
        }
        // ~85% have one.
        assert!((165_000..175_000).contains(&with_email), "{with_email}");
    }

    #[test]
    fn phones_are_valid_us_numbers() {
        let mut with_phone = 0;
        let mut suffixes = HashSet::new();
        for c in generate(3, 20_000) {
            let Some(phone) = c.phone else { continue };
            with_phone += 1;
            let parsed = Phone::parse(&phone, PhoneRegion::default());
            assert!(parsed.is_ok(), "{phone}: {parsed:?}");
            let e164 = parsed.unwrap();
            assert!(e164.as_e164().starts_with("+1"), "{phone}");
            suffixes.insert(e164.as_e164()[e164.as_e164().len() - 4..].to_owned());
        }
        assert!((17_500..18_500).contains(&with_phone), "{with_phone}");
        // 18,000 numbers over 10,000 possible suffixes: most suffixes are used.
        assert!(suffixes.len() > 7_500, "{}", suffixes.len());
    }

    #[test]
    fn every_area_code_and_exchange_is_valid() {
        let us = PhoneRegion::default();
        for c in CITIES {
            for &area in c.area_codes {
                for exchange in (200..=999).step_by(7) {
                    if exchange % 100 == 11 || exchange == 555 {
                        continue;
                    }
                    let raw = format!("{area}{exchange}{:04}", (exchange * 37) % 10_000);
                    assert!(Phone::parse(&raw, us).is_ok(), "{} {raw}", c.name);
                }
            }
        }
    }

    fn parse_ymd(s: &str) -> (u32, u32, u32) {
        assert_eq!(s.len(), 10, "{s}");
        assert_eq!(&s[4..5], "-", "{s}");
        assert_eq!(&s[7..8], "-", "{s}");
        let y: u32 = s[..4].parse().unwrap();
        let m: u32 = s[5..7].parse().unwrap();
        let d: u32 = s[8..].parse().unwrap();
        assert!((1..=12).contains(&m), "{s}");
        assert!((1..=days_in_month(y, m)).contains(&d), "{s}");
        (y, m, d)
    }

    fn age_on(birth: (u32, u32, u32), on: (u32, u32, u32)) -> u32 {
        let years = on.0 - birth.0;
        if (on.1, on.2) < (birth.1, birth.2) {
            years - 1
        } else {
            years
        }
    }

    #[test]
    fn dates_are_well_formed_and_ages_plausible() {
        let mut with_dob = 0;
        for c in generate(11, 50_000) {
            if let Some(dob) = &c.date_of_birth {
                with_dob += 1;
                let b = parse_ymd(dob);
                for on in [(2026, 1, 1), (2026, 6, 30), (2026, 12, 31)] {
                    let age = age_on(b, on);
                    assert!((18..=90).contains(&age), "{dob} is {age} on {on:?}");
                }
            }
            for expiry in [&c.medical_expiry, &c.id_expiry].into_iter().flatten() {
                let (y, _, _) = parse_ymd(expiry);
                assert!((2026..=2033).contains(&y), "{expiry}");
            }
            if let Some(m) = &c.medical_expiry {
                assert!((2026..=2029).contains(&parse_ymd(m).0), "{m}");
            }
        }
        assert!((36_500..38_500).contains(&with_dob), "{with_dob}");
    }

    #[test]
    fn addresses_are_consistent() {
        for c in generate(5, 20_000) {
            match &c.city {
                Some(city) => {
                    let known = CITIES.iter().find(|k| k.name == city).unwrap();
                    assert_eq!(c.region.as_deref(), Some(known.state));
                    assert_eq!(c.country.as_deref(), Some("US"));
                    if let Some(zip) = &c.postal_code {
                        assert_eq!(zip.len(), 5, "{zip}");
                        assert!(zip.bytes().all(|b| b.is_ascii_digit()), "{zip}");
                        assert!(zip.starts_with(known.zip3), "{zip} {city}");
                        assert!(c.address_line1.is_some());
                    }
                }
                None => {
                    assert!(c.region.is_none() && c.country.is_none());
                    assert!(c.address_line1.is_none() && c.postal_code.is_none());
                }
            }
            if c.address_line2.is_some() {
                assert!(c.address_line1.is_some());
            }
            assert_eq!(
                c.medical_card_number.is_some(),
                c.medical_issuing_state.is_some()
            );
            assert_eq!(c.medical_card_number.is_some(), c.medical_expiry.is_some());
            assert_eq!(c.id_number.is_some(), c.id_issuing_state.is_some());
            assert_eq!(c.id_number.is_some(), c.id_expiry.is_some());
            assert!(!c.first_name.is_empty() && !c.last_name.is_empty());
        }
    }

    #[test]
    fn proportions_are_roughly_as_documented() {
        let n = 100_000;
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for c in generate(9, n) {
            let mut bump = |k, present: bool| *counts.entry(k).or_default() += usize::from(present);
            bump("address", c.address_line1.is_some());
            bump("tax_id", c.tax_id.is_some());
            bump("notes", c.notes.is_some());
            bump("consent", c.marketing_consent);
            bump("medical", c.medical_card_number.is_some());
            bump("id", c.id_number.is_some());
        }
        let pct = |k: &str| counts[k] as f64 * 100.0 / n as f64;
        assert!((66.0..74.0).contains(&pct("address")), "{}", pct("address"));
        assert!((4.0..6.0).contains(&pct("tax_id")), "{}", pct("tax_id"));
        assert!((2.4..3.6).contains(&pct("notes")), "{}", pct("notes"));
        assert!((58.0..62.0).contains(&pct("consent")), "{}", pct("consent"));
        assert!((7.0..9.0).contains(&pct("medical")), "{}", pct("medical"));
        assert!((28.0..32.0).contains(&pct("id")), "{}", pct("id"));
    }

    #[test]
    fn names_are_skewed_and_include_accents() {
        assert!(FIRST_NAMES.len() >= 200, "{}", FIRST_NAMES.len());
        assert!(LAST_NAMES.len() >= 300, "{}", LAST_NAMES.len());
        assert_eq!(
            FIRST_NAMES.iter().collect::<HashSet<_>>().len(),
            FIRST_NAMES.len(),
            "duplicate first name"
        );
        assert_eq!(
            LAST_NAMES.iter().collect::<HashSet<_>>().len(),
            LAST_NAMES.len(),
            "duplicate last name"
        );
        let accented = FIRST_NAMES
            .iter()
            .chain(LAST_NAMES)
            .filter(|n| is_accented(n))
            .count();
        assert!(accented >= 30, "{accented}");

        let mut first: HashMap<String, usize> = HashMap::new();
        let mut last: HashMap<String, usize> = HashMap::new();
        let mut accented_rows = 0;
        for c in generate(2026, 10_000) {
            if is_accented(&c.first_name) || is_accented(&c.last_name) {
                accented_rows += 1;
            }
            *first.entry(c.first_name).or_default() += 1;
            *last.entry(c.last_name).or_default() += 1;
        }
        assert!(accented_rows >= 200, "{accented_rows}");
        // Common names are much more frequent than rare ones.
        assert!(last["Smith"] > 10 * last.get("Weiß").copied().unwrap_or(0).max(1));
        assert!(first["James"] > 10 * first.get("Þóra").copied().unwrap_or(0).max(1));
        assert!(last["Smith"] > 150 && last["Garcia"] > 80, "{last:?}");
        // The accent-insensitive pairs both occur.
        for name in ["García", "Müller", "Muller"] {
            assert!(last.contains_key(name), "{name}");
        }
        for name in ["José", "Jose"] {
            assert!(first.contains_key(name), "{name}");
        }
    }

    #[test]
    fn households_share_last_name_and_address() {
        let rows: Vec<GeneratedCustomer> = generate(8, 20_000).collect();
        let mut by_address: HashMap<(&str, &str), Vec<&GeneratedCustomer>> = HashMap::new();
        for c in &rows {
            if let (Some(l1), Some(zip)) = (&c.address_line1, &c.postal_code) {
                by_address.entry((l1, zip)).or_default().push(c);
            }
        }
        let shared = by_address.values().filter(|v| v.len() > 1).count();
        assert!(shared > 300, "{shared}");
        let phones: HashSet<&str> = rows.iter().filter_map(|c| c.phone.as_deref()).collect();
        assert!(phones.len() < rows.iter().filter(|c| c.phone.is_some()).count());
    }

    #[test]
    fn helpers() {
        let mut s = String::new();
        fold_ascii(&mut s, "Đorđević O'Brien Jean-Luc Weiß Søren Þóra");
        assert_eq!(s, "dordevicobrienjean-lucweisssorenthora");
        let mut s = String::new();
        push_padded(&mut s, 7u32, 4);
        push_padded(&mut s, 12_345u32, 2);
        push_padded(&mut s, 0u32, 1);
        assert_eq!(s, "0007123450");
        let mut s = "anna.mueller.48213".to_owned();
        capitalise_words(&mut s);
        assert_eq!(s, "Anna.Mueller.48213");
        let p = PhoneNumber {
            area: 201,
            exchange: 555,
            line: 123,
        };
        let mut rng = Rng::new(0);
        let formats: HashSet<String> = (0..200).map(|_| format_phone(&mut rng, p)).collect();
        for f in [
            "(201) 555-0123",
            "201-555-0123",
            "+1 201 555 0123",
            "2015550123",
        ] {
            assert!(formats.contains(f), "{f} not in {formats:?}");
        }
    }
}
