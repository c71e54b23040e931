use super::*;
use crate::spec::{IntersectionSpec, LaneLinkSpec, LaneSpec, MovementSpec, PhaseSpec, RoadSpec};

/// Junction 22997447965 of Nanchang round 2 as `citybrain sim --export-cityflow` writes
/// it: road 933 ends there after a kink, road 932 leaves it, a right turn from 933's
/// outer lane to each lane of 932, with no lane-link points.
fn kinked_right_turn() -> NetworkSpec {
    let lanes = vec![LaneSpec { width: 4.0, max_speed: 16.67 }; 3];
    let node = |name: &str, x: f64, y: f64, is_virtual: bool, width: f64| IntersectionSpec {
        name: name.into(),
        point: Point::new(x, y),
        width,
        is_virtual,
        movements: Vec::new(),
        phases: Vec::new(),
    };
    let mut j = node("J", -2346.196412080473, -3062.2108663833174, false, 10.0);
    j.movements.push(MovementSpec {
        turn: Turn::Right,
        from_road: 0,
        to_road: 1,
        lane_links: (0..3).map(|to_lane| LaneLinkSpec { from_lane: 2, to_lane, points: Vec::new() }).collect(),
    });
    j.phases.push(PhaseSpec { duration: 30.0, movements: vec![0] });
    NetworkSpec {
        intersections: vec![
            node("A", -2307.2029547120524, -3082.559537959647, true, 0.0),
            j,
            node("B", -2126.495379605491, -2798.284148246353, true, 0.0),
        ],
        roads: vec![
            RoadSpec {
                name: "933".into(),
                from: 0,
                to: 1,
                points: vec![
                    Point::new(-2307.2029547120524, -3082.559537959647),
                    Point::new(-2316.2659961974787, -3052.3914873260137),
                    Point::new(-2346.196412080473, -3062.2108663833174),
                ],
                lanes: lanes.clone(),
            },
            RoadSpec {
                name: "932".into(),
                from: 1,
                to: 2,
                points: vec![
                    Point::new(-2346.196412080473, -3062.2108663833174),
                    Point::new(-2273.8465646665445, -2899.030752462591),
                    Point::new(-2126.495379605491, -2798.284148246353),
                ],
                lanes,
            },
        ],
        georef: Default::default(),
    }
}

#[test]
fn default_lane_link_curves_are_cityflows() {
    // CityFlow's own curves for this junction (RoadNet::loadFromJson on the exported
    // roadnet, points printed to 4 decimals): they start 0.78 m off the trimmed lane end
    // because of the kink, and the short chords hook back into the exit lane.
    let cityflow: [(f64, [(f64, f64); 3]); 3] = [
        (6.108022, [(-2339.5981, -3050.3410), (-2341.3673, -3050.7809), (-2340.3188, -3053.8780)]),
        (8.768901, [(-2339.5981, -3050.3410), (-2340.0840, -3051.3498), (-2336.6700, -3055.4958)]),
        (12.013594, [(-2339.5981, -3050.3410), (-2338.8008, -3051.9188), (-2333.0213, -3057.1136)]),
    ];
    let net = Network::build(&kinked_right_turn()).unwrap();
    assert_eq!(net.lane_links.len(), 3);
    for (link, (length, pts)) in net.lane_links.iter().zip(cityflow) {
        assert_eq!(link.points.len(), 11);
        assert!((link.length - length).abs() < 1e-5, "length {} vs CityFlow {length}", link.length);
        for (p, (x, y)) in [link.points[0], link.points[4], link.points[10]].into_iter().zip(pts) {
            assert!((p.x - x).abs() < 1e-3 && (p.y - y).abs() < 1e-3, "{p:?} vs CityFlow ({x}, {y})");
        }
    }
    let lane_end = *net.lanes[2].points.last().unwrap();
    assert!((lane_end - net.lane_links[0].points[0]).len() > 0.5, "the curve does not start at the trimmed lane end");
}
