//! Rust values into [`Value`]s, and lists of them into statement binds.

use super::Value;
use crate::error::{Error, Result};

/// A Rust value that can be bound into a statement.
///
/// Conversion is fallible: a `u64` above `i64::MAX` has no SQL integer to
/// become, and says so instead of wrapping.
pub trait ToValue {
    /// Converts a borrowed value (cloning text and bytes).
    fn to_value(&self) -> Result<Value>;

    /// Converts an owned value, moving text and bytes where possible.
    fn into_value(self) -> Result<Value>
    where
        Self: Sized,
    {
        self.to_value()
    }
}

impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Result<Value> {
        (**self).to_value()
    }
}

impl ToValue for Value {
    fn to_value(&self) -> Result<Value> {
        Ok(self.clone())
    }
    fn into_value(self) -> Result<Value> {
        Ok(self)
    }
}

macro_rules! lossless {
    ($($t:ty => $variant:ident as $target:ty),* $(,)?) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> Result<Value> {
                Ok(Value::$variant(<$target>::from(*self)))
            }
        }
    )*};
}

lossless!(
    bool => Bool as bool,
    i8 => I16 as i16,
    u8 => I16 as i16,
    i16 => I16 as i16,
    u16 => I32 as i32,
    i32 => I32 as i32,
    u32 => I64 as i64,
    i64 => I64 as i64,
    f32 => F32 as f32,
    f64 => F64 as f64,
);

macro_rules! checked_unsigned {
    ($($t:ty),*) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> Result<Value> {
                i64::try_from(*self).map(Value::I64).map_err(|_| Error::Encode {
                    reason: concat!(
                        "a ",
                        stringify!($t),
                        " above i64::MAX, the largest integer SQL stores"
                    )
                    .to_owned(),
                })
            }
        }
    )*};
}

checked_unsigned!(u64, usize);

impl ToValue for str {
    fn to_value(&self) -> Result<Value> {
        Ok(Value::Text(self.to_owned()))
    }
}

impl ToValue for String {
    fn to_value(&self) -> Result<Value> {
        Ok(Value::Text(self.clone()))
    }
    fn into_value(self) -> Result<Value> {
        Ok(Value::Text(self))
    }
}

impl ToValue for [u8] {
    fn to_value(&self) -> Result<Value> {
        Ok(Value::Blob(self.to_vec()))
    }
}

impl ToValue for Vec<u8> {
    fn to_value(&self) -> Result<Value> {
        Ok(Value::Blob(self.clone()))
    }
    fn into_value(self) -> Result<Value> {
        Ok(Value::Blob(self))
    }
}

impl<const N: usize> ToValue for [u8; N] {
    fn to_value(&self) -> Result<Value> {
        Ok(Value::Blob(self.to_vec()))
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Result<Value> {
        match self {
            Some(v) => v.to_value(),
            None => Ok(Value::Null),
        }
    }
    fn into_value(self) -> Result<Value> {
        match self {
            Some(v) => v.into_value(),
            None => Ok(Value::Null),
        }
    }
}

#[cfg(feature = "uuid")]
impl ToValue for uuid::Uuid {
    fn to_value(&self) -> Result<Value> {
        Ok(Value::Uuid(*self))
    }
}

#[cfg(feature = "json")]
impl ToValue for serde_json::Value {
    fn to_value(&self) -> Result<Value> {
        Ok(Value::Json(self.clone()))
    }
    fn into_value(self) -> Result<Value> {
        Ok(Value::Json(self))
    }
}

/// The bind values of one statement.
///
/// Implemented for `()` (no binds), tuples of up to 16 [`ToValue`]s, arrays,
/// `Vec`s and slices of one [`ToValue`] type, and slices of
/// `&dyn ToValue` for lists built at run time.
///
/// ```
/// use sylvan::{Binds, Value};
/// let v = (1_i32, "two", Some(3.0_f64), None::<i64>).into_values().unwrap();
/// assert_eq!(v, vec![Value::I32(1), Value::Text("two".into()), Value::F64(3.0), Value::Null]);
/// ```
pub trait Binds {
    /// Converts into owned values, in placeholder order (`$1` first).
    fn into_values(self) -> Result<Vec<Value>>;
}

impl Binds for () {
    fn into_values(self) -> Result<Vec<Value>> {
        Ok(Vec::new())
    }
}

impl<T: ToValue> Binds for Vec<T> {
    fn into_values(self) -> Result<Vec<Value>> {
        self.into_iter().map(ToValue::into_value).collect()
    }
}

impl<T: ToValue> Binds for &[T] {
    fn into_values(self) -> Result<Vec<Value>> {
        self.iter().map(ToValue::to_value).collect()
    }
}

impl<T: ToValue, const N: usize> Binds for [T; N] {
    fn into_values(self) -> Result<Vec<Value>> {
        self.into_iter().map(ToValue::into_value).collect()
    }
}

macro_rules! tuple_binds {
    ($($name:ident)+) => {
        impl<$($name: ToValue),+> Binds for ($($name,)+) {
            #[allow(non_snake_case)]
            fn into_values(self) -> Result<Vec<Value>> {
                let ($($name,)+) = self;
                Ok(vec![$($name.into_value()?),+])
            }
        }
    };
}

tuple_binds!(A);
tuple_binds!(A B);
tuple_binds!(A B C);
tuple_binds!(A B C D);
tuple_binds!(A B C D E);
tuple_binds!(A B C D E F);
tuple_binds!(A B C D E F G);
tuple_binds!(A B C D E F G H);
tuple_binds!(A B C D E F G H I);
tuple_binds!(A B C D E F G H I J);
tuple_binds!(A B C D E F G H I J K);
tuple_binds!(A B C D E F G H I J K L);
tuple_binds!(A B C D E F G H I J K L M);
tuple_binds!(A B C D E F G H I J K L M N);
tuple_binds!(A B C D E F G H I J K L M N O);
tuple_binds!(A B C D E F G H I J K L M N O P);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn u64_above_i64_max_is_an_error() {
        assert_eq!((i64::MAX as u64).to_value().unwrap(), Value::I64(i64::MAX));
        let err = u64::MAX.to_value().unwrap_err();
        assert!(matches!(err, Error::Encode { .. }), "{err}");
    }

    #[test]
    fn tuples_keep_order_and_options_become_null() {
        let v = (1_i16, String::from("x"), None::<i32>, vec![1_u8, 2])
            .into_values()
            .unwrap();
        assert_eq!(
            v,
            vec![
                Value::I16(1),
                Value::Text("x".into()),
                Value::Null,
                Value::Blob(vec![1, 2])
            ]
        );
    }

    #[test]
    fn dyn_slice_binds() {
        let a = 5_i64;
        let b = "s";
        let list: &[&(dyn ToValue + Sync)] = &[&a, &b];
        assert_eq!(list.into_values().unwrap().len(), 2);
        let err = vec![1_u64, u64::MAX].into_values().unwrap_err();
        assert!(matches!(err, Error::Encode { .. }));
    }
}
