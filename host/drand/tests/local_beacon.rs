//! The sandbox's own beacon: its pulses verify under its info, its rounds lock and unlock
//! commits exactly as quicknet's do, and nothing crosses between rounds or beacons.

use subnet_drand::{
    BeaconInfo, DrandError, LocalBeacon, WeightsTlockPayload, decrypt, encrypt, recorded, verify_pulse,
};

fn beacon() -> LocalBeacon {
    LocalBeacon::from_seed(*b"subnetd sandbox beacon seed 0001", 1_700_000_000, 3)
}

#[test]
fn pulses_verify_under_its_info_only() {
    let b = beacon();
    let info = b.info();
    assert_eq!((info.genesis_unix, info.period_secs), (1_700_000_000, 3));
    for round in [1, 2, 3, 1000, 123_456_789, u64::MAX] {
        let pulse = b.pulse(round);
        verify_pulse(&info, &pulse).unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert_eq!(verify_pulse(&BeaconInfo::quicknet(), &pulse), Err(DrandError::BadSignature { round }));
        let other_round = subnet_drand::Pulse { round: round.wrapping_add(1), ..pulse };
        assert!(matches!(verify_pulse(&info, &other_round), Err(DrandError::BadSignature { .. })));
    }
    assert_eq!(verify_pulse(&info, &recorded::quicknet_round_1000()), Err(DrandError::BadSignature { round: 1000 }));
}

#[test]
fn round_n_commit_opens_with_pulse_n_only() {
    let b = beacon();
    let info = b.info();
    let payload = WeightsTlockPayload { hotkey: vec![3; 32], uids: vec![4, 5], values: vec![100, 200], version_key: 7 };
    let n = info.round_at(1_700_000_600);
    let m = n + 1;
    let commit_n = encrypt(&info, n, &payload.encode(), [9; 32]).unwrap();
    let commit_m = encrypt(&info, m, &payload.encode(), [9; 32]).unwrap();
    let opened = decrypt(&commit_n, &b.pulse(n).signature).unwrap();
    assert_eq!(WeightsTlockPayload::decode(&opened).unwrap(), payload);
    assert_eq!(decrypt(&commit_m, &b.pulse(n).signature), Err(DrandError::WrongSignature));
    assert_eq!(decrypt(&commit_n, &b.pulse(m).signature), Err(DrandError::WrongSignature));
    // Same round, other beacon (another seed, or quicknet itself).
    let stranger = LocalBeacon::from_seed([0; 32], 1_700_000_000, 3);
    assert_eq!(decrypt(&commit_n, &stranger.pulse(n).signature), Err(DrandError::WrongSignature));
    let quicknet_commit = encrypt(&BeaconInfo::quicknet(), 1000, b"x", [1; 32]).unwrap();
    assert_eq!(decrypt(&quicknet_commit, &b.pulse(1000).signature), Err(DrandError::WrongSignature));
}

#[test]
fn its_clock_follows_drands_rules() {
    let info = beacon().info();
    assert_eq!(info.round_time(1), 1_700_000_000);
    assert_eq!(info.latest_round(1_700_000_000 + 30), 11);
    assert_eq!(info.round_at(1_700_000_000 + 30), 10);
    let zero_period = LocalBeacon::from_seed([1; 32], 10, 0).info();
    assert_eq!(zero_period.period_secs, 1);
}
