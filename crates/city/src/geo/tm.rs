//! Transverse Mercator on the WGS84 ellipsoid by Krüger's series in the third flattening
//! `n`, to order n⁶ (Karney, "Transverse Mercator with an accuracy of a few nanometers",
//! J. Geodesy 85 (2011), eqs. 7-9, 11, 35-36). Within a UTM zone the series is exact to
//! a few nanometres; the conversion is invertible to far better than a millimetre.
//!
//! Scale 1, no false easting or northing: `x` is metres east of the central meridian,
//! `y` metres north of the equator along the projection. Callers add scale and false
//! origins ([`super::Crs`]).

use std::sync::OnceLock;

/// WGS84 semi-major axis, metres.
pub const WGS84_A: f64 = 6_378_137.0;
/// WGS84 flattening.
pub const WGS84_F: f64 = 1.0 / 298.257_223_563;

struct Series {
    /// First eccentricity.
    e: f64,
    /// Rectifying radius `A`.
    a: f64,
    /// Forward coefficients α₁..α₆.
    alpha: [f64; 6],
    /// Inverse coefficients β₁..β₆.
    beta: [f64; 6],
}

fn series() -> &'static Series {
    static S: OnceLock<Series> = OnceLock::new();
    S.get_or_init(|| {
        let f = WGS84_F;
        let n = f / (2.0 - f);
        let (n2, n3) = (n * n, n * n * n);
        let (n4, n5, n6) = (n3 * n, n3 * n2, n3 * n3);
        let a = WGS84_A / (1.0 + n) * (1.0 + n2 / 4.0 + n4 / 64.0 + n6 / 256.0);
        let alpha = [
            n / 2.0 - 2.0 / 3.0 * n2 + 5.0 / 16.0 * n3 + 41.0 / 180.0 * n4 - 127.0 / 288.0 * n5 + 7891.0 / 37800.0 * n6,
            13.0 / 48.0 * n2 - 3.0 / 5.0 * n3 + 557.0 / 1440.0 * n4 + 281.0 / 630.0 * n5 - 1983433.0 / 1935360.0 * n6,
            61.0 / 240.0 * n3 - 103.0 / 140.0 * n4 + 15061.0 / 26880.0 * n5 + 167603.0 / 181440.0 * n6,
            49561.0 / 161280.0 * n4 - 179.0 / 168.0 * n5 + 6601661.0 / 7257600.0 * n6,
            34729.0 / 80640.0 * n5 - 3418889.0 / 1995840.0 * n6,
            212378941.0 / 319334400.0 * n6,
        ];
        let beta = [
            n / 2.0 - 2.0 / 3.0 * n2 + 37.0 / 96.0 * n3 - 1.0 / 360.0 * n4 - 81.0 / 512.0 * n5 + 96199.0 / 604800.0 * n6,
            1.0 / 48.0 * n2 + 1.0 / 15.0 * n3 - 437.0 / 1440.0 * n4 + 46.0 / 105.0 * n5 - 1118711.0 / 3870720.0 * n6,
            17.0 / 480.0 * n3 - 37.0 / 840.0 * n4 - 209.0 / 4480.0 * n5 + 5569.0 / 90720.0 * n6,
            4397.0 / 161280.0 * n4 - 11.0 / 504.0 * n5 - 830251.0 / 7257600.0 * n6,
            4583.0 / 161280.0 * n5 - 108847.0 / 3991680.0 * n6,
            20648693.0 / 638668800.0 * n6,
        ];
        Series { e: (f * (2.0 - f)).sqrt(), a, alpha, beta }
    })
}

/// Conformal latitude's tangent τ' from the geographic latitude's tangent τ.
fn tau_prime(e: f64, tau: f64) -> f64 {
    let s1 = (1.0 + tau * tau).sqrt();
    let sigma = (e * (e * tau / s1).atanh()).sinh();
    tau * (1.0 + sigma * sigma).sqrt() - sigma * s1
}

/// Project latitude `lat` (degrees) at `dlon` degrees east of the central meridian to
/// `(x, y)` metres (scale 1, no false origin).
pub fn forward(lat: f64, dlon: f64) -> (f64, f64) {
    let s = series();
    let phi = lat.to_radians();
    let lam = dlon.to_radians();
    let tp = tau_prime(s.e, phi.tan());
    let (sl, cl) = lam.sin_cos();
    let xi_p = tp.atan2(cl);
    let eta_p = (sl / (tp * tp + cl * cl).sqrt()).asinh();
    let (mut xi, mut eta) = (xi_p, eta_p);
    for (j, a) in s.alpha.iter().enumerate() {
        let k = 2.0 * (j + 1) as f64;
        xi += a * (k * xi_p).sin() * (k * eta_p).cosh();
        eta += a * (k * xi_p).cos() * (k * eta_p).sinh();
    }
    (s.a * eta, s.a * xi)
}

/// The inverse of [`forward`]: `(lat, dlon)` in degrees of the point `(x, y)` metres.
pub fn inverse(x: f64, y: f64) -> (f64, f64) {
    let s = series();
    let (xi, eta) = (y / s.a, x / s.a);
    let (mut xi_p, mut eta_p) = (xi, eta);
    for (j, b) in s.beta.iter().enumerate() {
        let k = 2.0 * (j + 1) as f64;
        xi_p -= b * (k * xi).sin() * (k * eta).cosh();
        eta_p -= b * (k * xi).cos() * (k * eta).sinh();
    }
    let sh = eta_p.sinh();
    let (sx, cx) = xi_p.sin_cos();
    let tp = sx / (sh * sh + cx * cx).sqrt();
    // Newton on τ (Karney eq. 19-21).
    let e2 = s.e * s.e;
    let mut tau = tp;
    for _ in 0..8 {
        let tpi = tau_prime(s.e, tau);
        let d = (tp - tpi) / (1.0 + tpi * tpi).sqrt() * (1.0 + (1.0 - e2) * tau * tau) / ((1.0 - e2) * (1.0 + tau * tau).sqrt());
        if !d.is_finite() {
            break;
        }
        tau += d;
        if d.abs() <= 1e-14 * tau.abs().max(1.0) {
            break;
        }
    }
    (tau.atan().to_degrees(), sh.atan2(cx).to_degrees())
}

/// Metres from the equator to latitude `lat` along the central meridian (in the
/// projection, scale 1).
pub fn meridian_arc(lat: f64) -> f64 {
    forward(lat, 0.0).1
}
