## JSON writer for these cases (same conventions as the shared suite: numbers as the
## shortest of %.15g/%.16g/%.17g that reads back to the same double, NA -> null,
## named list/vector -> object, matrix -> {rownames, colnames, values}, I(x) -> array).
## fmreview's validation runner implements write_json/write_input natively and ignores
## these definitions; they are here so that `Rscript make.R` regenerates the case.
num1 <- function(v) {
  if (is.na(v)) return("null")
  for (d in 15:17) { s <- sprintf(paste0("%.", d, "g"), v); if (as.numeric(s) == v) return(s) }
  s
}
jstr <- function(s) if (is.na(s)) "null" else paste0('"', gsub('"', '\\\\"', s), '"')
to_json <- function(x) {
  if (is.null(x)) return("null")
  if (is.matrix(x))
    x <- list(rownames = I(rownames(x)), colnames = I(colnames(x)),
              values = lapply(seq_len(nrow(x)), function(i) I(unname(x[i, ]))))
  arr <- inherits(x, "AsIs"); nm <- names(x); x <- unclass(x)
  if (is.list(x)) {
    items <- vapply(seq_along(x), function(i) to_json(x[[i]]), "")
    if (is.null(nm)) return(paste0("[", paste(items, collapse = ", "), "]"))
    return(paste0("{", paste0(vapply(nm, jstr, ""), ": ", items, collapse = ",\n"), "}"))
  }
  enc <- if (is.numeric(x)) vapply(as.numeric(x), num1, "") else vapply(as.character(x), jstr, "")
  if (!is.null(nm) && !arr) return(paste0("{", paste0(vapply(nm, jstr, ""), ": ", enc, collapse = ", "), "}"))
  if (length(enc) == 1 && !arr) enc else paste0("[", paste(enc, collapse = ", "), "]")
}
write_json <- function(x, file = "expected.json") writeLines(to_json(x), file)
write_input <- function(df, file = "input.csv") write.csv(df, file, row.names = FALSE, na = "")
vec_named <- function(x, nm) setNames(as.numeric(x), nm)
