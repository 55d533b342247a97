//! Segments: k-means (linfa) over numeric features of an entity, such as customers'
//! recency, frequency and monetary value. Features are standardised first, so that
//! euros do not outweigh days; centres are given back in the features' own units.

use linfa::traits::{Fit, Predict};
use linfa::DatasetBase;
use linfa_clustering::KMeans;
use ndarray::{Array2, Axis};
use rand_xoshiro::rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256Plus;

/// The seed of every clustering: the same rows always give the same segments.
pub const SEED: u64 = 42;

#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    #[error("{rows} rows cannot make {k} segments")]
    TooFewRows { rows: usize, k: usize },
    #[error("k must be at least 2")]
    KTooSmall,
    #[error("row {row} has {found} features, not {expected}")]
    Ragged { row: usize, found: usize, expected: usize },
    #[error("feature {0} is not a finite number in some row")]
    NotFinite(usize),
    #[error("k-means: {0}")]
    KMeans(#[from] linfa_clustering::KMeansError),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Segmentation {
    /// Each row's segment, `0..k`, segments numbered by their first feature's centre,
    /// ascending.
    pub labels: Vec<usize>,
    /// Each segment's centre, in the features' units.
    pub centres: Vec<Vec<f64>>,
    pub sizes: Vec<usize>,
}

pub fn segment(rows: &[Vec<f64>], k: usize) -> Result<Segmentation, SegmentError> {
    if k < 2 {
        return Err(SegmentError::KTooSmall);
    }
    if rows.len() < k {
        return Err(SegmentError::TooFewRows { rows: rows.len(), k });
    }
    let width = rows[0].len();
    let mut data = Array2::<f64>::zeros((rows.len(), width));
    for (i, row) in rows.iter().enumerate() {
        if row.len() != width {
            return Err(SegmentError::Ragged { row: i, found: row.len(), expected: width });
        }
        for (j, value) in row.iter().enumerate() {
            if !value.is_finite() {
                return Err(SegmentError::NotFinite(j));
            }
            data[[i, j]] = *value;
        }
    }
    let mean = data.mean_axis(Axis(0)).unwrap_or_else(|| ndarray::Array1::zeros(width));
    let spread = data.std_axis(Axis(0), 0.0).mapv(|s| if s > 0.0 { s } else { 1.0 });
    let scaled = (&data - &mean) / &spread;
    let dataset = DatasetBase::from(scaled);
    let model = KMeans::params_with_rng(k, Xoshiro256Plus::seed_from_u64(SEED)).fit(&dataset)?;
    let raw_labels = model.predict(&dataset);
    let centres: Vec<Vec<f64>> = model
        .centroids()
        .outer_iter()
        .map(|centre| centre.iter().enumerate().map(|(j, v)| v * spread[j] + mean[j]).collect())
        .collect();
    // Number the segments by their centres, so that labels do not depend on the order
    // in which k-means found them.
    let mut order: Vec<usize> = (0..centres.len()).collect();
    order.sort_by(|a, b| centres[*a].iter().partial_cmp(centres[*b].iter()).unwrap_or(std::cmp::Ordering::Equal));
    let mut rank = vec![0; centres.len()];
    for (new, old) in order.iter().enumerate() {
        rank[*old] = new;
    }
    let labels: Vec<usize> = raw_labels.iter().map(|label| rank[*label]).collect();
    let mut sizes = vec![0; centres.len()];
    for label in &labels {
        sizes[*label] += 1;
    }
    Ok(Segmentation { labels, centres: order.iter().map(|old| centres[*old].clone()).collect(), sizes })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The adjusted Rand index of two labellings: 1 for the same partition, about 0
    /// for chance agreement.
    fn adjusted_rand_index(a: &[usize], b: &[usize]) -> f64 {
        let pairs = |n: f64| n * (n - 1.0) / 2.0;
        let (ka, kb) = (a.iter().max().map_or(0, |m| m + 1), b.iter().max().map_or(0, |m| m + 1));
        let mut table = vec![vec![0.0; kb]; ka];
        for (x, y) in a.iter().zip(b) {
            table[*x][*y] += 1.0;
        }
        let index: f64 = table.iter().flatten().map(|n| pairs(*n)).sum();
        let rows: f64 = table.iter().map(|row| pairs(row.iter().sum())).sum();
        let columns: f64 = (0..kb).map(|j| pairs(table.iter().map(|row| row[j]).sum())).sum();
        let expected = rows * columns / pairs(a.len() as f64);
        (index - expected) / ((rows + columns) / 2.0 - expected)
    }

    /// Customers from four groups: (days since last order, orders, revenue in EUR).
    fn customers() -> (Vec<Vec<f64>>, Vec<usize>) {
        let groups = [[5.0, 20.0, 2_000.0], [30.0, 8.0, 600.0], [90.0, 3.0, 150.0], [300.0, 1.0, 40.0]];
        let mut rows = Vec::new();
        let mut truth = Vec::new();
        for n in 0..400usize {
            let group = n % 4;
            let wobble = ((n * 7919 % 97) as f64 / 97.0 - 0.5) * 0.2;
            rows.push(groups[group].iter().map(|v| v * (1.0 + wobble)).collect());
            truth.push(group);
        }
        (rows, truth)
    }

    #[test]
    fn well_separated_groups_are_recovered() {
        let (rows, truth) = customers();
        let found = segment(&rows, 4).unwrap();
        let ari = adjusted_rand_index(&found.labels, &truth);
        assert!(ari > 0.95, "adjusted Rand index {ari}");
        assert_eq!(found.sizes, vec![100; 4]);
        // Numbered by recency: the most recent customers are segment 0.
        assert!((found.centres[0][0] - 5.0).abs() < 1.0, "{:?}", found.centres);
    }

    #[test]
    fn the_same_rows_give_the_same_segments_and_bad_input_is_named() {
        let (rows, _) = customers();
        assert_eq!(segment(&rows, 3).unwrap(), segment(&rows, 3).unwrap());
        assert!(matches!(segment(&rows[..2], 3), Err(SegmentError::TooFewRows { rows: 2, k: 3 })));
        assert!(matches!(segment(&[vec![1.0, 2.0], vec![1.0]], 2), Err(SegmentError::Ragged { row: 1, .. })));
        assert!(matches!(segment(&[vec![f64::NAN], vec![1.0]], 2), Err(SegmentError::NotFinite(0))));
        assert_eq!(adjusted_rand_index(&[0, 0, 1, 1], &[1, 1, 0, 0]), 1.0);
    }
}
