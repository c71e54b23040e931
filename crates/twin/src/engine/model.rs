//! CityFlow's vehicle model as pure functions of a vehicle's kinematic state, so each
//! formula can be tested on its own. Names follow CityFlow's `Vehicle` methods.

use city::demand::VehicleParams;

/// `std::min` as CityFlow calls it: `b < a ? b : a` (the first argument on ties). Also
/// cheaper than `f64::min`, which must handle NaN (the model never produces one).
#[inline(always)]
pub(crate) fn min(a: f64, b: f64) -> f64 {
    if b < a {
        b
    } else {
        a
    }
}

/// `std::max`: `a < b ? b : a`.
#[inline(always)]
pub(crate) fn max(a: f64, b: f64) -> f64 {
    if a < b {
        b
    } else {
        a
    }
}

/// CityFlow's `eps` in `getStopBeforeSpeed`.
const EPS: f64 = 1e-8;

/// A vehicle type with the distances CityFlow derives from it once.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Kin {
    pub p: VehicleParams,
    /// `approachingIntersectionDistance`, also the leader look-ahead horizon.
    pub approach: f64,
    /// Factor on the lanes' speed limits (1 for every vehicle of the scenario's flows;
    /// above 1 for an emergency vehicle, see `units`). Multiplying by 1 is exact.
    pub limit: f64,
    /// [`no_collision_speed`]'s constants for braking at `max_neg_acc` and `usual_neg_acc`.
    brake_max: Brake,
    brake_usual: Brake,
}

/// The terms of [`no_collision_speed`] that depend only on the follower's deceleration
/// `df`, computed once by the same operations: `a = 0.5 / df` and `0.5 / a`.
#[derive(Clone, Copy, Debug)]
struct Brake {
    a: f64,
    half_over_a: f64,
}

impl Brake {
    fn new(df: f64) -> Brake {
        let a = 0.5 / df;
        Brake { a, half_over_a: 0.5 / a }
    }
}

/// `x / dt`, skipping the division in the common case `dt == 1` (where it is exact).
#[inline(always)]
fn div_dt(x: f64, dt: f64) -> f64 {
    if dt == 1.0 {
        x
    } else {
        x / dt
    }
}

impl Kin {
    pub fn new(p: VehicleParams, dt: f64) -> Kin {
        Kin {
            p,
            approach: p.max_speed * p.max_speed / p.usual_neg_acc / 2.0 + p.max_speed * dt * 2.0,
            limit: 1.0,
            brake_max: Brake::new(p.max_neg_acc),
            brake_usual: Brake::new(p.usual_neg_acc),
        }
    }
    /// [`no_collision_speed`] for this vehicle as the follower braking at `max_neg_acc`.
    #[inline]
    pub fn no_collision_speed_max(&self, vl: f64, dl: f64, vf: f64, gap: f64, dt: f64, target_gap: f64) -> f64 {
        no_collision(vl, dl, vf, self.brake_max, gap, dt, target_gap)
    }
    #[inline]
    pub fn min_brake_distance(&self, speed: f64) -> f64 {
        0.5 * speed * speed / self.p.max_neg_acc
    }
    /// `canYield`: the vehicle can still stop `yieldDistance` before a point `dist` ahead,
    /// or it has already cleared a point behind it.
    #[inline]
    pub fn can_yield(&self, speed: f64, dist: f64) -> bool {
        (dist > 0.0 && self.min_brake_distance(speed) < dist - self.p.yield_distance)
            || (dist < 0.0 && dist + self.p.length < 0.0)
    }
    /// `getStopBeforeSpeed`: the speed that brings the vehicle to rest within `distance`.
    #[inline]
    pub fn stop_before_speed(&self, speed: f64, distance: f64, dt: f64) -> f64 {
        let next = speed + self.p.usual_pos_acc * dt;
        let brake_after_accel = (speed + next) * dt / 2.0 + next * next / self.p.usual_neg_acc / 2.0;
        if brake_after_accel < distance {
            return next;
        }
        let take = div_dt(2.0 * distance / (speed + EPS), dt);
        if take >= 1.0 {
            speed - speed / (take as i32 as f64)
        } else {
            speed - speed / take
        }
    }
    /// `getReachSteps`: steps needed to cover `distance` accelerating at `acc` towards `target`.
    #[inline]
    pub fn reach_steps(&self, speed: f64, distance: f64, target: f64, acc: f64, dt: f64) -> i64 {
        if distance <= 0.0 {
            return 0;
        }
        if speed > target {
            return (distance / speed).ceil() as i64;
        }
        let until = distance_until_speed(speed, target, acc, dt);
        if until > distance {
            (((speed * speed + 2.0 * acc * distance).sqrt() - speed) / acc / dt).ceil() as i64
        } else {
            ((target - speed) / acc / dt).ceil() as i64 + ((distance - until) / target / dt).ceil() as i64
        }
    }
}

/// `getDistanceUntilSpeed`.
#[inline]
pub(crate) fn distance_until_speed(speed: f64, target: f64, acc: f64, dt: f64) -> f64 {
    if target <= speed {
        return 0.0;
    }
    let steps = ((target - speed) / acc / dt).floor();
    let stage1_speed = speed + steps * acc / dt;
    let stage1_dis = (speed + stage1_speed) * (steps * dt) / 2.0;
    stage1_dis + if stage1_speed < target { (stage1_speed + target) * dt / 2.0 } else { 0.0 }
}

/// `getNoCollisionSpeed`: the highest speed that lets the follower (speed `vf`, braking
/// `df`) stop behind a leader (speed `vl`, braking `dl`) keeping `target_gap`.
/// Returns -100 when no speed is safe, as CityFlow does.
#[inline]
#[cfg(test)]
pub(crate) fn no_collision_speed(vl: f64, dl: f64, vf: f64, df: f64, gap: f64, dt: f64, target_gap: f64) -> f64 {
    no_collision(vl, dl, vf, Brake::new(df), gap, dt, target_gap)
}

/// [`no_collision_speed`] with the follower's braking terms precomputed.
#[inline]
fn no_collision(vl: f64, dl: f64, vf: f64, f: Brake, gap: f64, dt: f64, target_gap: f64) -> f64 {
    let c = vf * dt / 2.0 + target_gap - 0.5 * vl * vl / dl - gap;
    let a = f.a;
    let b = 0.5 * dt;
    if b * b < 4.0 * a * c {
        return -100.0;
    }
    let v1 = f.half_over_a * ((b * b - 4.0 * a * c).sqrt() - b);
    let v2 = 2.0 * vl - dl * dt + div_dt(2.0 * (gap - target_gap), dt);
    min(v1, v2)
}

/// `getCarFollowSpeed` with a leader: the minimum of two no-collision speeds and the
/// headway term.
#[inline]
pub(crate) fn car_follow_speed(me: &Kin, speed: f64, leader: &Kin, leader_speed: f64, gap: f64, dt: f64) -> f64 {
    let p = &me.p;
    let mut v = no_collision(leader_speed, leader.p.max_neg_acc, speed, me.brake_max, gap, dt, 0.0);
    let assume_decel = if speed > leader_speed { speed - leader_speed } else { 0.0 };
    v = min(v, no_collision(leader_speed, leader.p.usual_neg_acc, speed, me.brake_usual, gap, dt, p.min_gap));
    min(v, (gap + (leader_speed + assume_decel / 2.0) * dt - speed * dt / 2.0) / (p.headway_time + dt / 2.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kin() -> Kin {
        Kin::new(VehicleParams::default(), 1.0)
    }

    #[test]
    fn no_collision_allows_full_speed_with_large_gap() {
        let v = no_collision_speed(10.0, 4.5, 10.0, 4.5, 200.0, 1.0, 2.0);
        assert!(v > 16.0, "{v}");
    }

    #[test]
    fn no_collision_is_negative_when_too_close() {
        let v = no_collision_speed(0.0, 4.5, 15.0, 4.5, 1.0, 1.0, 2.0);
        assert_eq!(v, -100.0);
    }

    #[test]
    fn follower_behind_stopped_leader_stops_before_it() {
        let k = kin();
        // Drive towards a stopped leader 50 m ahead and check we never close the gap.
        let (mut speed, mut gap) = (11.0_f64, 50.0_f64);
        for _ in 0..60 {
            let mut v = car_follow_speed(&k, speed, &k, 0.0, gap, 1.0).min(k.p.max_speed);
            v = v.max(speed - k.p.max_neg_acc);
            let d = if v < 0.0 { 0.5 * speed * speed / k.p.max_neg_acc } else { (speed + v) / 2.0 };
            speed = v.max(0.0);
            gap -= d;
            assert!(gap > 0.0, "collided: gap {gap}");
        }
        assert!(speed < 0.1 && gap < 10.0, "speed {speed} gap {gap}");
    }

    /// CityFlow's formulas exactly as its source writes them, for the bit-for-bit checks
    /// of the precomputed and shortcut versions above.
    fn no_collision_reference(vl: f64, dl: f64, vf: f64, df: f64, gap: f64, dt: f64, target_gap: f64) -> f64 {
        let c = vf * dt / 2.0 + target_gap - 0.5 * vl * vl / dl - gap;
        let a = 0.5 / df;
        let b = 0.5 * dt;
        if b * b < 4.0 * a * c {
            return -100.0;
        }
        let v1 = 0.5 / a * ((b * b - 4.0 * a * c).sqrt() - b);
        let v2 = 2.0 * vl - dl * dt + 2.0 * (gap - target_gap) / dt;
        if v2 < v1 {
            v2
        } else {
            v1
        }
    }

    proptest::proptest! {
        /// The per-type braking constants and the skipped unit-step division give CityFlow's
        /// values bit for bit, for unit and other step lengths.
        #[test]
        fn precomputed_terms_match_cityflow_bit_for_bit(
            vl in 0.0f64..30.0,
            dl in 0.5f64..9.0,
            vf in 0.0f64..30.0,
            df in 0.5f64..9.0,
            gap in -10.0f64..300.0,
            target_gap in 0.0f64..5.0,
            speed in 0.0f64..30.0,
            distance in 0.0f64..200.0,
            dt in proptest::sample::select(vec![1.0, 0.5, 0.1, 0.25, 2.0]),
        ) {
            let got = no_collision_speed(vl, dl, vf, df, gap, dt, target_gap);
            let want = no_collision_reference(vl, dl, vf, df, gap, dt, target_gap);
            proptest::prop_assert_eq!(got.to_bits(), want.to_bits());
            let k = Kin::new(VehicleParams { max_neg_acc: df, ..VehicleParams::default() }, dt);
            let got = k.no_collision_speed_max(vl, dl, vf, gap, dt, target_gap);
            proptest::prop_assert_eq!(got.to_bits(), want.to_bits());
            // `getStopBeforeSpeed` as CityFlow writes it.
            let p = &k.p;
            let next = speed + p.usual_pos_acc * dt;
            let want = if (speed + next) * dt / 2.0 + next * next / p.usual_neg_acc / 2.0 < distance {
                next
            } else {
                let take = 2.0 * distance / (speed + EPS) / dt;
                if take >= 1.0 { speed - speed / (take as i32 as f64) } else { speed - speed / take }
            };
            proptest::prop_assert_eq!(k.stop_before_speed(speed, distance, dt).to_bits(), want.to_bits());
        }
    }

    #[test]
    fn stop_before_brakes_to_rest() {
        let k = kin();
        let (mut speed, mut left) = (10.0_f64, 30.0_f64);
        for _ in 0..30 {
            let v = k.stop_before_speed(speed, left.max(0.0), 1.0).max(speed - k.p.max_neg_acc).max(0.0);
            left -= (speed + v) / 2.0;
            speed = v;
        }
        assert!(speed < 1e-6, "{speed}");
        assert!(left > -0.5, "overshot by {}", -left);
    }

    #[test]
    fn reach_steps_matches_kinematics() {
        let k = kin();
        assert_eq!(k.reach_steps(5.0, 0.0, 16.0, 2.5, 1.0), 0);
        // Already faster than target: distance / speed.
        assert_eq!(k.reach_steps(10.0, 25.0, 8.0, 2.5, 1.0), 3);
        // From rest: sqrt(2 a d)/a = sqrt(2*2.5*10)/2.5 = 2.83 -> 3 steps.
        assert_eq!(k.reach_steps(0.0, 10.0, 16.0, 2.5, 1.0), 3);
    }

    #[test]
    fn distance_until_speed_is_monotone() {
        let mut last = 0.0;
        for t in 1..20 {
            let d = distance_until_speed(0.0, t as f64, 2.5, 1.0);
            assert!(d >= last);
            last = d;
        }
    }
}
