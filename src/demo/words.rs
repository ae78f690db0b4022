//! Static Colombian word lists for the demo portfolio generator.
//!
//! Kept apart from the generator so its logic stays short: these are plain
//! data (names, surnames, cities, street types, e-mail domains, mobile
//! operator prefixes) chosen to look like a real Colombian collections book.

/// A city where a demo person lives, with what the generator needs to make
/// its address and landline look local.
#[derive(Debug, Clone, Copy, Default)]
pub struct City {
    /// City name as written on an address.
    pub name: &'static str,
    /// Department (or "Bogotá D.C."), the address region.
    pub region: &'static str,
    /// Lowest plausible 6-digit postal code; the first two digits are the department's.
    pub postal_base: u32,
    /// How many further postal codes above `postal_base` the city plausibly uses.
    pub postal_span: u32,
    /// Landline indicative digit after "60" (1 Bogotá, 4 Antioquia, 2 Valle…).
    pub area_code: u8,
}

const fn city(name: &'static str, region: &'static str, postal: (u32, u32), area_code: u8) -> City {
    City { name, region, postal_base: postal.0, postal_span: postal.1, area_code }
}

/// Cities weighted roughly by urban population (tens of thousands).
pub const CITIES: [(City, u32); 19] = [
    (city("Bogotá", "Bogotá D.C.", (110_111, 1_870), 1), 780),
    (city("Medellín", "Antioquia", (50_001, 46), 4), 250),
    (city("Cali", "Valle del Cauca", (760_001, 50), 2), 225),
    (city("Barranquilla", "Atlántico", (80_001, 20), 5), 120),
    (city("Cartagena", "Bolívar", (130_001, 14), 5), 100),
    (city("Cúcuta", "Norte de Santander", (540_001, 12), 7), 75),
    (city("Bucaramanga", "Santander", (680_001, 10), 7), 60),
    (city("Ibagué", "Tolima", (730_001, 7), 8), 54),
    (city("Villavicencio", "Meta", (500_001, 16), 8), 53),
    (city("Santa Marta", "Magdalena", (470_001, 6), 5), 50),
    (city("Valledupar", "Cesar", (200_001, 4), 5), 49),
    (city("Montería", "Córdoba", (230_001, 2), 4), 49),
    (city("Pereira", "Risaralda", (660_001, 7), 6), 47),
    (city("Manizales", "Caldas", (170_001, 3), 6), 43),
    (city("Pasto", "Nariño", (520_001, 2), 2), 39),
    (city("Neiva", "Huila", (410_001, 9), 8), 36),
    (city("Popayán", "Cauca", (190_001, 2), 2), 32),
    (city("Armenia", "Quindío", (630_001, 3), 6), 30),
    (city("Tunja", "Boyacá", (150_001, 2), 8), 18),
];

/// Street types of the Colombian address grid, weighted by how common they are.
pub const VIAS: [(&str, u32); 5] =
    [("Calle", 35), ("Carrera", 35), ("Avenida", 8), ("Diagonal", 10), ("Transversal", 12)];

/// Letters and "Bis" that split a street number ("Calle 45A", "Carrera 7 Bis").
pub const STREET_SUFFIXES: [(&str, u32); 6] = [("", 78), ("A", 9), ("B", 5), ("C", 2), ("D", 2), (" Bis", 4)];

/// Mobile operator prefixes in use (Claro, Movistar, Tigo, WOM, virtual operators).
pub const MOBILE_PREFIXES: &[u16] = &[
    300, 301, 302, 303, 304, 305, 310, 311, 312, 313, 314, 315, 316, 317, 318, 319, 320, 321, 322, 323, 324, 350, 351,
];

/// Personal mailbox providers, weighted by popularity in Colombia.
pub const PERSONAL_DOMAINS: [(&str, u32); 5] =
    [("gmail.com", 50), ("hotmail.com", 25), ("outlook.com", 12), ("yahoo.com", 8), ("yahoo.com.co", 5)];

/// Fictitious employers for work addresses, so no real company is named.
pub const WORK_DOMAINS: &[&str] = &[
    "andinaservicios.com.co",
    "logisticadelcaribe.co",
    "constructoraelpinar.com.co",
    "grupoaltiplano.co",
    "textilesdelvalle.com.co",
    "comercializadoralaesperanza.co",
];

/// Female given names, a few of them compound as is common in Colombia.
pub const FEMALE_NAMES: &[&str] = &[
    "María",
    "Ana",
    "Luz",
    "Carmen",
    "Martha",
    "Gloria",
    "Sandra",
    "Claudia",
    "Diana",
    "Paola",
    "Natalia",
    "Carolina",
    "Andrea",
    "Laura",
    "Valentina",
    "Daniela",
    "Camila",
    "Juliana",
    "Alejandra",
    "Paula",
    "Marcela",
    "Adriana",
    "Liliana",
    "Mónica",
    "Patricia",
    "Ángela",
    "Yolanda",
    "Blanca",
    "Rosa",
    "Esperanza",
    "Lorena",
    "Viviana",
    "Tatiana",
    "Johana",
    "Yesenia",
    "Sofía",
    "Isabella",
    "Mariana",
    "Luisa",
    "Catalina",
    "María Fernanda",
    "Ana María",
    "Luz Marina",
    "María José",
    "Luz Dary",
    "Diana Marcela",
    "Sandra Milena",
    "Claudia Patricia",
    "Martha Lucía",
    "María Camila",
    "Laura Sofía",
    "Leidy Johana",
    "Luisa Fernanda",
];

/// Male given names, a few of them compound as is common in Colombia.
pub const MALE_NAMES: &[&str] = &[
    "José",
    "Juan",
    "Luis",
    "Carlos",
    "Jorge",
    "Andrés",
    "Diego",
    "Jhon",
    "Jaime",
    "Fabio",
    "Hernán",
    "Óscar",
    "Édgar",
    "Alejandro",
    "Fernando",
    "Camilo",
    "Sebastián",
    "Santiago",
    "Mateo",
    "Felipe",
    "Daniel",
    "David",
    "Mauricio",
    "Ricardo",
    "Javier",
    "Gustavo",
    "Álvaro",
    "Wilson",
    "Harold",
    "Nelson",
    "Alexander",
    "Rubén",
    "Julián",
    "Esteban",
    "Cristian",
    "Héctor",
    "Jairo",
    "Orlando",
    "Germán",
    "Edwin",
    "Juan Carlos",
    "Juan David",
    "Juan Pablo",
    "Juan Sebastián",
    "José Luis",
    "Luis Fernando",
    "Carlos Andrés",
    "Andrés Felipe",
    "Jhon Jairo",
    "Luis Alberto",
    "Juan Camilo",
    "Miguel Ángel",
    "José Manuel",
];

/// Common Colombian surnames; each person gets a paternal and a maternal one.
pub const SURNAMES: &[&str] = &[
    "Rodríguez",
    "Gómez",
    "González",
    "Martínez",
    "García",
    "López",
    "Hernández",
    "Sánchez",
    "Ramírez",
    "Pérez",
    "Díaz",
    "Muñoz",
    "Rojas",
    "Moreno",
    "Jiménez",
    "Vargas",
    "Castro",
    "Gutiérrez",
    "Álvarez",
    "Romero",
    "Suárez",
    "Torres",
    "Ruiz",
    "Ortiz",
    "Valencia",
    "Quintero",
    "Restrepo",
    "Castillo",
    "Mejía",
    "Ospina",
    "Cardona",
    "Ríos",
    "Osorio",
    "Salazar",
    "Herrera",
    "Medina",
    "Aguirre",
    "Cárdenas",
    "Parra",
    "Guerrero",
    "Mendoza",
    "Correa",
    "Zapata",
    "Gil",
    "Marín",
    "Arias",
    "Vásquez",
    "Giraldo",
    "Londoño",
    "Duque",
    "Arango",
    "Escobar",
    "Montoya",
    "Peña",
    "Cruz",
    "Ramos",
    "Reyes",
    "Rincón",
    "Patiño",
    "Bermúdez",
    "Ocampo",
    "Cortés",
    "Mosquera",
    "Palacios",
    "Cuesta",
    "Bedoya",
    "Uribe",
    "Velásquez",
    "Henao",
    "Cifuentes",
    "Beltrán",
    "Chaparro",
    "Sierra",
    "Acosta",
    "Barrios",
    "Navarro",
    "Camacho",
    "Caicedo",
];
